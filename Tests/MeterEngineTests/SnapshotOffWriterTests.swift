import Foundation
import MeterCore
import MeterEngine
import XCTest

/// Snapshots are serialized and written by the snapshot replica on its own thread: while one is
/// being written, the writer keeps accepting, syncing and acknowledging events, and Health
/// answers. The snapshot thread is held on a semaphore at the moment it would serialize, so the
/// test is deterministic: if the writer waited for the snapshot, no ingest would be acknowledged
/// until the semaphore is released, and the test would fail on its deadline.
final class SnapshotOffWriterTests: XCTestCase {
    /// Holds the snapshot thread until the test releases it, and says when it got there.
    final class SnapshotGate: @unchecked Sendable {
        let reached = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        private let lock = NSLock()
        private var heldOnce = false

        func hold(_ sequence: UInt64) {
            lock.lock()
            let first = !heldOnce
            heldOnce = true
            lock.unlock()
            guard first else { return }
            reached.signal()
            release.wait()
        }
    }

    func testTheWriterAcknowledgesIngestWhileASnapshotIsBeingWritten() async throws {
        let directory = DataDirectory(self)
        let gate = SnapshotGate()
        var configured = options(directory)
        configured.snapshotEveryRecords = 2
        configured.snapshotMinimumLogGrowth = 0
        configured.beforeSnapshotWrite = { gate.hold($0) }
        let engine = try MeterEngine.open(options: configured)
        _ = try await engine.createMeter(tokensMeter)
        _ = try await engine.ingest(events: [usageEvent("first", tokens: 1)])
        // The second record makes a snapshot due; wait until the snapshot thread is held in it.
        _ = try await engine.ingest(events: [usageEvent("second", tokens: 1)])
        let reached = await Task.detached { gate.reached.wait(timeout: .now() + 10) }.value
        XCTAssertEqual(reached, .success, "no snapshot was started")

        // With the snapshot thread held, 50 more ingests must be acknowledged.
        let acknowledged = await Task.detached { () -> Int in
            let done = DispatchSemaphore(value: 0)
            let counter = Counter()
            for index in 0..<50 {
                engine.ingest(events: [usageEvent("during-\(index)", tokens: 2)]) { result in
                    if case .success(let results) = result, results.count == 1 { counter.increment() }
                    done.signal()
                }
            }
            var answered = 0
            while answered < 50, done.wait(timeout: .now() + 10) == .success { answered += 1 }
            return counter.value
        }.value
        XCTAssertEqual(acknowledged, 50, "ingest waited for the snapshot")
        let status = await engine.status()
        XCTAssertNil(status.failure)
        XCTAssertEqual(status.snapshotSequence, 0, "the held snapshot cannot have finished")
        XCTAssertGreaterThanOrEqual(status.lastAppliedSequence, 53)

        gate.release.signal()
        let usage = try await total(engine)
        XCTAssertEqual(usage, ExactDecimal(102))
        await engine.shutdown()
        // The final snapshot covers everything: nothing to replay, the same usage.
        let reopened = try MeterEngine.open(options: options(directory))
        XCTAssertEqual(reopened.recovery.replayedRecords, 0)
        let reopenedUsage = try await total(reopened)
        XCTAssertEqual(reopenedUsage, ExactDecimal(102))
        await reopened.shutdown()
    }

    /// The replica's snapshot is the writer's state: restoring either gives identical bytes.
    func testTheReplicasSnapshotEqualsTheWritersState() async throws {
        let directory = DataDirectory(self)
        let clock = ManualClock(engineStart)
        var configured = options(directory, clock: clock)
        configured.snapshotEveryRecords = 5
        configured.snapshotMinimumLogGrowth = 0
        let engine = try MeterEngine.open(options: configured)
        _ = try await engine.createMeter(tokensMeter)
        _ = try await engine.createMeter(MeterDefinition(eventName: "users", displayName: "Users", aggregation: Aggregation(kind: .countUnique, field: "tokens")))
        for batch in 0..<40 {
            clock.advance(by: 30_000)
            _ = try await engine.ingest(events: (0..<3).map {
                usageEvent("e\(batch)-\($0)", customer: "c\($0)", tokens: Int64(batch), at: clock.read(), name: $0 == 0 ? "users" : "tokens_used")
            })
        }
        let live = try await stateBytes(engine)
        await engine.shutdown()
        let reopened = try MeterEngine.open(options: options(directory, clock: clock))
        XCTAssertEqual(reopened.recovery.replayedRecords, 0, "the final snapshot should cover the log")
        let restored = try await stateBytes(reopened)
        XCTAssertEqual(restored, live)
        await reopened.shutdown()
    }
}

/// A thread-safe counter.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
