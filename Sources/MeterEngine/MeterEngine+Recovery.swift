import Foundation
import MeterCore
import MeterLog

/// What recovery found when the engine opened.
public struct EngineRecoveryReport: Sendable, CustomStringConvertible {
    /// Log position of the snapshot recovery started from (0: none).
    public var snapshotSequence: UInt64
    /// Snapshot files that were skipped as invalid, with the reason.
    public var skippedSnapshots: [String]
    /// Records replayed after the snapshot.
    public var replayedRecords: UInt64
    /// What the log did on open (torn tail cut, repairs).
    public var log: RecoveryReport
    public var durationMilliseconds: Int64

    public var description: String {
        var text = "recovered from snapshot \(snapshotSequence) + \(replayedRecords) log records in \(durationMilliseconds) ms"
        if !skippedSnapshots.isEmpty { text += "; skipped snapshots: \(skippedSnapshots.joined(separator: "; "))" }
        if !log.isClean { text += "; log: \(log)" }
        return text
    }

    /// One line per damage found in the log, starting `ERROR` when records were lost (with
    /// the events they held, as far as the damaged bytes can be read) and `WARNING` when the
    /// snapshot covered everything dropped. Each names the segment file and byte offset.
    public var problems: [String] {
        log.damage.map { damage in
            var line = "\(damage.lostRecords ? "ERROR" : "WARNING"): log \(damage)"
            if damage.lostRecords { line += "; \(Self.describeLostEvents(damage))" }
            let copies = ([log.tornTail].compactMap { $0 } + log.repairs).filter { $0.segment == damage.segment }.map(\.copy)
            if !copies.isEmpty { line += "; the removed bytes are kept in \(copies.joined(separator: ", "))" }
            return line
        }
    }

    /// What the damaged records held, as far as their bytes still decode.
    static func describeLostEvents(_ damage: RecoveryReport.Damage) -> String {
        let firstLost = damage.firstLostSequence ?? UInt64.max
        let lost = damage.damagedRecords.filter { record in record.sequence >= firstLost }
        let records = lost.isEmpty ? damage.damagedRecords : lost
        if records.isEmpty { return "\(damage.damagedByteCount) damaged bytes hold no readable record" }
        var eventIds: [String] = []
        var unreadableBytes = 0
        var otherRecords = 0
        for record in records {
            guard record.type == RecordCodec.eventsAcceptedType else { otherRecords += 1; continue }
            if record.isComplete, case .eventsAccepted(_, _, let events)? = try? RecordCodec.decode(type: record.type, payload: record.payload) {
                eventIds += events.map { event in event.eventId }
            } else {
                unreadableBytes += record.payload.count
            }
        }
        var parts: [String] = []
        if let first = eventIds.first, let last = eventIds.last {
            parts.append("\(eventIds.count) acknowledged event(s) dropped, ids \(first) ... \(last) (read from damaged bytes)")
        }
        if unreadableBytes > 0 { parts.append("\(unreadableBytes) bytes of event records could not be parsed") }
        if otherRecords > 0 { parts.append("\(otherRecords) other record(s) dropped") }
        return parts.isEmpty ? "\(damage.damagedByteCount) damaged bytes" : parts.joined(separator: "; ")
    }
}

extension MeterEngine {
    /// Opens the data directory: loads the newest valid snapshot, replays the log after it
    /// (cutting a torn tail, refusing mid-log corruption unless `options.repair`), starts the
    /// writer and returns. Throws when the data cannot be trusted.
    public static func open(options: EngineOptions) throws -> MeterEngine {
        precondition(options.core.problems.isEmpty, "invalid configuration: \(options.core.problems)")
        let started = ContinuousClock.now
        // 0700: the log and snapshots hold every tenant's usage (files are 0600, see MeterLog).
        try FileManager.default.createDirectory(
            atPath: options.dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var options = options
        // The data directory's own dedup key (see DedupKeyFile), unless the caller gave one.
        if options.core.dedupKey == .unkeyed {
            options.core.dedupKey = try DedupKeyFile.loadOrCreate(directory: options.dataDirectory)
        }
        var snapshots = try SnapshotStore(directory: options.dataDirectory)
        snapshots.writeBytesPerSecond = options.snapshotWriteBytesPerSecond
        let loaded = try snapshots.load()
        let snapshotSequence = loaded.newest?.sequence ?? 0
        // The snapshot is parsed here while another thread validates the log (both read every
        // byte; they need only the snapshot's position from each other).
        let configuration = options.core
        let logOptions = LogOptions(segmentSizeBytes: options.segmentSizeBytes, repair: options.repair, snapshotSequence: snapshotSequence)
        let directory = options.dataDirectory
        let (parsed, opened) = SideBySide.run({
            Result { () throws -> MeterStateMachine in
                guard let snapshot = loaded.newest else { return MeterStateMachine(configuration: configuration) }
                return try MeterStateMachine(snapshot: snapshot.bytes, configuration: configuration)
            }
        }, alongside: {
            Result { try OpenedLog(SegmentedLog.open(directory: directory, options: logOptions)) }
        })
        let machine: MeterStateMachine
        do {
            machine = try parsed.get()
        } catch {
            if case .success(let opened) = opened { opened.log.close() }
            throw error
        }
        let (log, logReport) = try opened.get().value
        var replicaToStop: SnapshotReplica?
        do {
            if log.lastSequence < snapshotSequence {
                throw EngineOpenError("the snapshot covers log position \(snapshotSequence) but the log ends at \(log.lastSequence): log records were lost")
            }
            if log.lastSequence > snapshotSequence && log.firstSequence > snapshotSequence + 1 {
                throw EngineOpenError("the log starts at \(log.firstSequence) but the snapshot ends at \(snapshotSequence): segments are missing")
            }
            var replayed: UInt64 = 0
            var replayedBytes = 0
            // The snapshot replica starts from the same snapshot (parsed on its own thread) and
            // is fed the same records as they are replayed.
            let replica = makeSnapshotReplica(options: options, store: snapshots, snapshotBytes: loaded.newest?.bytes)
            replicaToStop = replica
            // Records are applied from their bytes (`apply(logRecordType:payload:sequence:)`),
            // and handed to the replica in groups, which applies the same bytes the same way.
            var pending: [(sequence: UInt64, type: UInt8, payload: [UInt8])] = []
            try log.read(from: snapshotSequence + 1) { sequence, logRecord in
                replayedBytes += logRecord.payload.count
                if logRecord.type == RecordCodec.backfillProgressType,
                   case .backfillProgress(let meterId, let through) = try RecordCodec.decode(type: logRecord.type, payload: logRecord.payload) {
                    let stretch = try replayBackfill(meterId: meterId, through: through, machine: machine, log: log)
                    if !pending.isEmpty { replica.enqueue(.applyLogRecords(pending)) }
                    pending = []
                    replica.enqueue(.backfill(meterId: meterId, stretch: stretch))
                }
                try machine.apply(logRecordType: logRecord.type, payload: logRecord.payload, sequence: sequence)
                pending.append((sequence, logRecord.type, logRecord.payload))
                if pending.count >= 64 {
                    replica.enqueue(.applyLogRecords(pending))
                    pending = []
                }
                replayed += 1
            }
            if !pending.isEmpty { replica.enqueue(.applyLogRecords(pending)) }
            let elapsed = ContinuousClock.now - started
            let report = EngineRecoveryReport(
                snapshotSequence: snapshotSequence, skippedSnapshots: loaded.skipped.map(\.description), replayedRecords: replayed,
                log: logReport, durationMilliseconds: elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
            let engine = MeterEngine(options: options, machine: machine, log: log, snapshots: snapshots,
                                     replica: replica, snapshotSequence: snapshotSequence, recovery: report)
            replica.setOnFinished { [weak engine] in engine?.snapshotDidFinish() }
            engine.recordsSinceSnapshot = replayed
            engine.logBytesSinceSnapshot = replayedBytes
            engine.lastSnapshotBytes = loaded.newest?.bytes.count ?? 0
            engine.startWriter()
            return engine
        } catch {
            replicaToStop?.stop()
            log.close()
            throw error
        }
    }
}

/// A log opened on the recovery thread, handed to the thread that owns it from then on.
private struct OpenedLog: @unchecked Sendable {
    let log: SegmentedLog
    let report: RecoveryReport
    init(_ opened: (log: SegmentedLog, recovery: RecoveryReport)) {
        log = opened.log
        report = opened.recovery
    }
    var value: (SegmentedLog, RecoveryReport) { (log, report) }
}

/// The data directory cannot be opened safely; the message says why.
public struct EngineOpenError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
