import MeterCore
import MeterLog

/// Thrown inside a log read to stop it early.
struct StopReading: Error {}

extension MeterEngine {
    /// Aggregates the next stretch of retained log records into the oldest meter whose
    /// backfill is unfinished, then logs how far it got. A step reads at most
    /// `backfillRecordsPerStep` records, so ingestion (served between steps) never stalls long.
    ///
    /// Deterministic under replay: the progress record is appended (and synced) before the
    /// stretch is applied, and replay, on meeting it, applies the same stretch at the same
    /// log position (`replayBackfill`).
    func backfillStep() {
        guard failure == nil, let pending = machine.pendingBackfills.first else { return }
        var through = pending.targetSequence
        var stretch: [(UInt64, StateRecord)] = []
        do {
            var seen: UInt64 = 0
            try log.read(from: Swift.max(pending.fromSequence, 1)) { sequence, record in
                guard sequence < pending.targetSequence else { throw StopReading() }
                if seen >= options.backfillRecordsPerStep {
                    through = sequence
                    throw StopReading()
                }
                seen += 1
                guard record.type == RecordCodec.eventsAcceptedType else { return }
                stretch.append((sequence, try RecordCodec.decode(type: record.type, payload: record.payload)))
            }
        } catch is StopReading {
        } catch {
            failure = "backfill of \(pending.meterId) could not read the log: \(error)"
            options.onEvent?(.failed(message: failure ?? ""))
            return
        }
        let progress = StateRecord.backfillProgress(meterId: pending.meterId, completedThroughSequence: through)
        _ = append([progress]) { [self] in
            for (sequence, record) in stretch {
                machine.applyBackfill(meterId: pending.meterId, record: record, sequence: sequence)
            }
            replica.enqueue(.backfill(meterId: pending.meterId, stretch: stretch))
        }
    }

    /// During recovery: re-applies the stretch a `backfillProgress` record covers, exactly as
    /// the live engine did before writing it.
    /// Returns the stretch it applied, for the snapshot replica.
    @discardableResult
    static func replayBackfill(meterId: String, through: UInt64, machine: MeterStateMachine, log: SegmentedLog) throws -> [(UInt64, StateRecord)] {
        guard let pending = machine.pendingBackfills.first(where: { $0.meterId == meterId }) else { return [] }
        var stretch: [(UInt64, StateRecord)] = []
        do {
            try log.read(from: Swift.max(pending.fromSequence, 1)) { sequence, record in
                guard sequence < through else { throw StopReading() }
                guard record.type == RecordCodec.eventsAcceptedType else { return }
                let decoded = try RecordCodec.decode(type: record.type, payload: record.payload)
                machine.applyBackfill(meterId: meterId, record: decoded, sequence: sequence)
                stretch.append((sequence, decoded))
            }
        } catch is StopReading {}
        return stretch
    }
}
