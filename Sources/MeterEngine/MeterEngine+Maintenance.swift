import Foundation
import MeterCore
import MeterLog

extension MeterEngine {
    /// Work the writer does between groups: interval fsync, snapshots, retention, backfill.
    func maintenance() {
        guard failure == nil else { return }
        let now = options.clock()
        if unsyncedRecords, case .interval(let milliseconds) = options.durability, now - lastSyncMilliseconds >= Int64(milliseconds) {
            do {
                try log.sync()
                lastSyncMilliseconds = now
                unsyncedRecords = false
            } catch {
                failure = "\(error)"
                return
            }
        }
        let due = recordsSinceSnapshot >= options.snapshotEveryRecords
            || (recordsSinceSnapshot > 0 && now - lastSnapshotMilliseconds >= options.snapshotEverySeconds * 1000)
        if due && Double(logBytesSinceSnapshot) >= options.snapshotMinimumLogGrowth * Double(lastSnapshotBytes) {
            writeSnapshot()
        }
        backfillStep()
    }

    /// Whether the writer has work even with an empty queue.
    func hasBackgroundWork() -> Bool {
        failure == nil && !machine.pendingBackfills.isEmpty
    }

    /// Writes the whole state atomically, keeps the two newest snapshots, then deletes log
    /// segments that the snapshot covers, that are older than the retention and that no
    /// unfinished backfill still needs.
    func writeSnapshot() {
        let sequence = machine.lastAppliedSequence
        do {
            if unsyncedRecords || options.durability == .none {
                // A snapshot must never describe records the log could still lose.
                try log.sync()
                unsyncedRecords = false
            }
            let bytes = machine.snapshot()
            try snapshots.write(sequence: sequence, bytes: bytes)
            try snapshots.prune(keeping: 2)
            snapshotSequence = sequence
            recordsSinceSnapshot = 0
            logBytesSinceSnapshot = 0
            lastSnapshotBytes = bytes.count
            lastSnapshotMilliseconds = options.clock()
            try applyRetention()
        } catch {
            // A failed snapshot loses nothing (the log still holds every record); a failed
            // log sync does, so only that turns the engine failed.
            if case LogError.failed = error { failure = "\(error)" }
            FileHandle.standardError.write(Data("meterd: snapshot at \(sequence) failed: \(error)\n".utf8))
        }
    }

    private func applyRetention() throws {
        let oldestKept = options.clock() - options.retentionMilliseconds
        var keepFrom = snapshotSequence + 1
        for backfill in machine.pendingBackfills {
            keepFrom = Swift.min(keepFrom, Swift.max(backfill.fromSequence, 1))
        }
        var before: UInt64 = 0
        for segment in log.segmentSummaries() {
            guard segment.isSealed, segment.lastSequence < keepFrom, segment.modifiedAtMilliseconds < oldestKept else { break }
            before = segment.lastSequence + 1
        }
        if before > 0 { try log.deleteSegments(before: before) }
    }

    /// Drains the queue after `shutdown()`: everything was committed by the loop; sync, write
    /// the final snapshot, close the log and wake the callers.
    func finishShutdown() {
        if failure == nil {
            do {
                try log.sync()
                unsyncedRecords = false
            } catch {
                failure = "\(error)"
            }
        }
        if failure == nil && (recordsSinceSnapshot > 0 || snapshotSequence < machine.lastAppliedSequence) {
            writeSnapshot()
        }
        log.close()
        condition.lock()
        finished = true
        let waiters = shutdownWaiters
        shutdownWaiters = []
        let leftovers = queue
        queue = []
        condition.unlock()
        for command in leftovers { command.fail(.unavailable("meterd is shutting down")) }
        for waiter in waiters { waiter.resume() }
    }
}
