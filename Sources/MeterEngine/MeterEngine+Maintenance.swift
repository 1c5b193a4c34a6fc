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
                options.onEvent?(.failed(message: "\(error)"))
                return
            }
        }
        collectSnapshots()
        if snapshotDue(now: now) { requestSnapshot() }
        backfillStep()
    }

    /// Whether a snapshot should be asked for now: enough records or time since the last one,
    /// none running, and the log grew by the last one's size (`snapshotMinimumLogGrowth`).
    func snapshotDue(now: Int64) -> Bool {
        let due = recordsSinceSnapshot >= options.snapshotEveryRecords
            || (recordsSinceSnapshot > 0 && now - lastSnapshotMilliseconds >= options.snapshotEverySeconds * 1000)
        return due && !snapshotRequested && Double(logBytesSinceSnapshot) >= options.snapshotMinimumLogGrowth * Double(lastSnapshotBytes)
    }

    /// Whether the pipelined writer should drain its in-flight group to run maintenance.
    func maintenanceDue(snapshotFinished: Bool) -> Bool {
        guard failure == nil else { return false }
        let now = options.clock()
        if unsyncedRecords, case .interval(let milliseconds) = options.durability, now - lastSyncMilliseconds >= Int64(milliseconds) { return true }
        return snapshotFinished || !machine.pendingBackfills.isEmpty || snapshotDue(now: now)
    }

    /// Whether the writer has work even with an empty queue.
    func hasBackgroundWork() -> Bool {
        failure == nil && !machine.pendingBackfills.isEmpty
    }

    /// Asks the snapshot replica for a snapshot of everything applied so far. The writer goes
    /// on at once: the replica serializes its own copy of the state on its own thread, and
    /// `collectSnapshots` picks up the result (and deletes what it makes unnecessary) later.
    func requestSnapshot() {
        // A snapshot must never describe records the log could still lose.
        if unsyncedRecords || options.durability == .none {
            guard syncLogOrFail() else { return }
        }
        replica.enqueue(.snapshot)
        snapshotRequested = true
        recordsSinceSnapshot = 0
        logBytesSinceSnapshot = 0
        lastSnapshotMilliseconds = options.clock()
    }

    /// Takes the snapshots the replica finished: records their position and size, and deletes
    /// the log segments they make unnecessary (retention). A failed snapshot loses nothing (the
    /// log still holds every record); the next one is asked for on the usual schedule.
    func collectSnapshots() {
        let finished = replica.takeFinishedSnapshots()
        guard !finished.isEmpty else { return }
        snapshotRequested = false
        for snapshot in finished {
            if let error = snapshot.error {
                FileHandle.standardError.write(Data("meterd: snapshot at \(snapshot.sequence) failed: \(error)\n".utf8))
                options.onEvent?(.snapshotFailed(sequence: snapshot.sequence, message: "\(error)"))
                continue
            }
            snapshotSequence = Swift.max(snapshotSequence, snapshot.sequence)
            lastSnapshotBytes = snapshot.byteCount
            options.onEvent?(.snapshotWritten(sequence: snapshot.sequence, bytes: snapshot.byteCount, durationMilliseconds: options.clock() - lastSnapshotMilliseconds))
        }
        // Failures to delete are reported by the snapshot thread, which deletes the files.
        applyRetention()
    }

    /// Detaches the log segments that the newest snapshot (and pending backfills and the
    /// retention age) no longer need, and has the snapshot thread delete them.
    private func applyRetention() {
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
        guard before > 0 else { return }
        // The files are deleted on the snapshot thread, off the writer: freeing 64 MiB
        // segments holds the file system's journal, which the next group commit waits for.
        let detached = log.detachSegments(before: before)
        if !replica.enqueue(.deleteSegments(detached, beforeSequence: before)) {
            // At shutdown the replica has stopped: delete them here, the writer is done.
            replica.deleteSegments(detached, before: before)
        }
    }

    /// fdatasyncs the log; a failure puts the engine in the failed state (writes refused until
    /// restart) and is reported. Returns whether the log is synced.
    @discardableResult
    func syncLogOrFail() -> Bool {
        do {
            try log.sync()
            unsyncedRecords = false
            return true
        } catch {
            failure = "\(error)"
            options.onEvent?(.failed(message: "\(error)"))
            return false
        }
    }

    /// Drains the queue after `shutdown()`: everything was committed by the loop; sync, write
    /// the final snapshot, close the log and wake the callers.
    func finishShutdown() {
        // A stopped engine answers checks as it answers other reads (unavailable).
        machine.resetCheckView(checkView)
        if failure == nil { syncLogOrFail() }
        if failure == nil && (recordsSinceSnapshot > 0 || snapshotSequence < machine.lastAppliedSequence) {
            replica.enqueue(.snapshot)
        }
        // Waits for the replica to apply what is queued and write the final snapshot.
        replica.stop()
        syncer.stop()
        collectSnapshots()
        publishStatus()
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
