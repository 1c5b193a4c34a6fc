import Foundation
import MeterCore
import MeterLog

/// A second state machine, fed the same records at the same log positions as the writer's,
/// that writes the snapshots on its own thread so that the writer never stops for one.
///
/// Why a replica rather than copy-on-write state or incremental snapshots: the state machine is
/// deterministic (the same records give byte-identical snapshots), so a replica is correct by
/// the invariant the replay tests already check, and it needs no change to MeterCore's data
/// structures. The price is a second copy of the state in memory and a second `apply` per
/// record, on the other core.
///
/// The writer hands over each applied group (`enqueue`), the backfill stretches it applied, and
/// snapshot requests, in log order. The replica applies them in that order; a snapshot request
/// is served when everything queued before it was applied, so the snapshot covers exactly the
/// log position the writer had when it asked. The writer collects finished snapshots with
/// `takeFinishedSnapshots()` and does the log retention itself (it owns the log).
///
/// Serializing and writing a snapshot runs on a lower-priority thread (`BackgroundWork`) while
/// the replica waits for it, and the file's writeback is paced (`SnapshotStore.write`), so that
/// neither the CPU nor the disk queue is taken from the writer's group commits.
///
/// Memory: while a snapshot is serialized, the records the writer applies meanwhile wait in
/// the queue (bounded by the writer's own rate times the snapshot's duration).
final class SnapshotReplica: @unchecked Sendable {
    /// Work for the replica, in log order.
    enum Step {
        /// Records applied by the writer, the first at `firstSequence`, the others after it.
        case apply([StateRecord], firstSequence: UInt64)
        /// Log records replayed at open, as the log holds them (applied from their bytes).
        case applyLogRecords([(sequence: UInt64, type: UInt8, payload: [UInt8])])
        /// Backfill events the writer applied to one meter just before its progress record.
        case backfill(meterId: String, stretch: [(UInt64, StateRecord)])
        /// Write a snapshot of everything applied so far.
        case snapshot
        /// Delete log segments the writer detached (retention), then report it.
        case deleteSegments(DetachedSegments, beforeSequence: UInt64)
    }

    /// A snapshot the replica wrote (or failed to write).
    struct Finished {
        var sequence: UInt64
        var byteCount: Int
        var error: String?
    }

    private let condition = NSCondition()
    private var steps: [Step] = []
    private var finished: [Finished] = []
    private var stopping = false
    private var stopped = false
    private var busy = false
    private var thread: Thread?
    private let store: SnapshotStore
    /// The size of the last snapshot, reserved (plus an eighth) for the next one.
    private var lastByteCount = 0
    /// Snapshots this replica wrote and synced: prune need not read them back to trust them.
    private var writtenSequences: Set<UInt64> = []
    private let beforeWrite: (@Sendable (UInt64) -> Void)?
    private let onEvent: (@Sendable (EngineEvent) -> Void)?
    private let beforeSegmentDelete: (@Sendable ([String]) -> Void)?
    /// Called (on the replica thread, with no lock held) after each snapshot finished, so the
    /// writer wakes up to collect it.
    private var onFinished: (@Sendable () -> Void)?

    /// Starts the replica thread. `load` runs first, on that thread, and builds the starting
    /// state (from the same snapshot the writer recovered from); steps queued meanwhile wait.
    init(store: SnapshotStore, beforeWrite: (@Sendable (UInt64) -> Void)?,
         onEvent: (@Sendable (EngineEvent) -> Void)? = nil,
         beforeSegmentDelete: (@Sendable ([String]) -> Void)? = nil,
         load: @escaping @Sendable () throws -> MeterStateMachine) {
        self.store = store
        self.beforeWrite = beforeWrite
        self.onEvent = onEvent
        self.beforeSegmentDelete = beforeSegmentDelete
        let thread = Thread { [self] in run(load: load) }
        thread.name = "meterd-snapshot"
        thread.stackSize = 8 << 20
        self.thread = thread
        thread.start()
    }

    /// Sets what to call after each finished snapshot.
    func setOnFinished(_ body: @escaping @Sendable () -> Void) {
        condition.lock()
        onFinished = body
        condition.unlock()
    }

    /// Queues `step` behind everything queued before it. Never blocks on a snapshot. Returns
    /// false (and drops the step) once the replica has stopped.
    @discardableResult
    func enqueue(_ step: Step) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopped else { return false }
        steps.append(step)
        condition.signal()
        return true
    }

    /// Snapshots written since the last call, oldest first.
    func takeFinishedSnapshots() -> [Finished] {
        condition.lock()
        defer { condition.unlock() }
        let taken = finished
        finished = []
        return taken
    }

    /// Whether a snapshot is queued or being written.
    var snapshotInProgress: Bool {
        condition.lock()
        defer { condition.unlock() }
        return busy || steps.contains { if case .snapshot = $0 { return true } else { return false } }
    }

    /// Finishes every queued step (snapshots included), then stops the thread.
    func stop() {
        condition.stopWorker(request: { stopping = true }, hasStopped: { stopped })
    }

    private func run(load: () throws -> MeterStateMachine) {
        var machine: MeterStateMachine?
        var loadError: String?
        var replicaFailure: String?
        do {
            machine = try load()
        } catch {
            loadError = "the snapshot replica could not load its starting state: \(error)"
        }
        while true {
            condition.lock()
            while steps.isEmpty && !stopping { condition.wait() }
            if steps.isEmpty && stopping {
                stopped = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let batch = steps
            steps.removeAll(keepingCapacity: true)
            busy = true
            condition.unlock()

            var results: [Finished] = []
            for step in batch {
                if case .deleteSegments(let detached, let before) = step {
                    deleteSegments(detached, before: before)
                    continue
                }
                if let failure = replicaFailure {
                    machine = nil
                    loadError = failure
                    replicaFailure = nil
                }
                guard let machine else {
                    if case .snapshot = step { results.append(Finished(sequence: 0, byteCount: 0, error: loadError)) }
                    continue
                }
                switch step {
                case .apply(let records, let firstSequence):
                    for (offset, record) in records.enumerated() {
                        machine.apply(record, sequence: firstSequence + UInt64(offset))
                    }
                case .applyLogRecords(let records):
                    // The writer applied these same bytes with the same code; a failure here
                    // would be a bug, reported by every later snapshot instead of a crash.
                    do {
                        for record in records {
                            try machine.apply(logRecordType: record.type, payload: record.payload, sequence: record.sequence)
                        }
                    } catch {
                        replicaFailure = "the snapshot replica could not apply a replayed log record: \(error)"
                    }
                case .backfill(let meterId, let stretch):
                    for (sequence, record) in stretch {
                        machine.applyBackfill(meterId: meterId, record: record, sequence: sequence)
                    }
                case .snapshot:
                    results.append(write(machine))
                case .deleteSegments:
                    break
                }
            }
            condition.lock()
            finished.append(contentsOf: results)
            busy = false
            let notify = results.isEmpty ? nil : onFinished
            condition.unlock()
            notify?()
        }
    }

    /// Deletes retention's segments on a lower-priority thread, as a snapshot is written.
    func deleteSegments(_ detached: DetachedSegments, before: UInt64) {
        beforeSegmentDelete?(detached.names)
        let failure: String? = BackgroundWork.run(name: "meterd-retention") {
            do {
                try detached.delete()
                return nil
            } catch {
                return "\(error)"
            }
        }
        if let failure {
            FileHandle.standardError.write(Data("meterd: retention before \(before) failed: \(failure)\n".utf8))
            onEvent?(.retentionFailed(message: failure))
        } else {
            onEvent?(.retentionDeleted(segments: detached.names.count, beforeSequence: before))
        }
    }

    private func write(_ machine: MeterStateMachine) -> Finished {
        let sequence = machine.lastAppliedSequence
        beforeWrite?(sequence)
        // The replica waits meanwhile (records the writer applies queue up), so the machine
        // is not touched by two threads at once.
        // The final snapshot at shutdown is written at full speed: no ingest waits behind it.
        var store = store
        if condition.withLock({ stopping }) { store.writeBytesPerSecond = nil }
        let expectedByteCount = lastByteCount + lastByteCount / 8
        // Prune runs only after this snapshot was written and synced: trust it and the earlier
        // ones this replica wrote, instead of reading them back.
        let trusted = writtenSequences.union([sequence])
        let finished = BackgroundWork.run(name: "meterd-snapshot-write") { [store] in
            var bytes = machine.snapshot(expectedByteCount: expectedByteCount)
            let byteCount = bytes.count
            // Its pages go back step by step, not in one munmap that would stall the writer.
            defer { GradualRelease.releasePages(of: &bytes) }
            do {
                try store.write(sequence: sequence, bytes: bytes)
                try store.prune(keeping: 2, written: trusted)
                return Finished(sequence: sequence, byteCount: byteCount, error: nil)
            } catch {
                return Finished(sequence: sequence, byteCount: byteCount, error: "\(error)")
            }
        }
        lastByteCount = finished.byteCount
        if finished.error == nil {
            // Only the newest few can be kept by prune; older ones are gone or will be read.
            writtenSequences.insert(sequence)
            if writtenSequences.count > 4 { writtenSequences.remove(writtenSequences.min()!) }
        }
        return finished
    }
}
