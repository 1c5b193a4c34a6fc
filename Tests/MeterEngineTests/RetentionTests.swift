import Foundation
import MeterCore
import MeterEngine
import XCTest

final class RetentionTests: XCTestCase {
    func testSegmentsCoveredByASnapshotAndOlderThanTheRetentionAreDeleted() async throws {
        let directory = DataDirectory(self)
        var configured = EngineOptions(dataDirectory: directory.path)
        configured.segmentSizeBytes = 4 << 10
        configured.snapshotEveryRecords = 40
        configured.retentionMilliseconds = 1
        var engine = try MeterEngine.open(options: configured)
        _ = try await engine.createMeter(tokensMeter)
        let now = EngineOptions.systemClock()
        for batch in 0..<100 {
            _ = try await engine.ingest(events: (0..<5).map { usageEvent("e\(batch)-\($0)", customer: "c\($0)", tokens: 1, at: now) })
        }
        // Snapshots are written on a background thread at low priority: wait for one to be
        // collected (retention runs then), with a deadline.
        let status = try await statusOnceRetentionRan(engine)
        XCTAssertGreaterThan(status.snapshotSequence, 0)
        XCTAssertGreaterThan(status.firstRetainedSequence, 1, "old segments should have been deleted")
        XCTAssertLessThanOrEqual(status.firstRetainedSequence, status.snapshotSequence + 1, "a segment the snapshot does not cover was deleted")
        let before = try await stateBytes(engine)
        let counted = try await total(engine, from: now - 3_600_000, to: now + 3_600_000)
        XCTAssertEqual(counted, ExactDecimal(500))
        await engine.shutdown()
        // The snapshot thread deletes the files; shutdown waits for what it has queued.
        let segments = try directory.files().filter { $0.hasSuffix(".wal") }
        XCTAssertFalse(segments.contains("log-00000000000000000001.wal"))
        XCTAssertEqual(try directory.files().filter { $0.hasSuffix(".deleting") }, [])

        engine = try MeterEngine.open(options: configured)
        let after = try await stateBytes(engine)
        XCTAssertEqual(after, before)
        await engine.shutdown()
    }

    func testRetentionKeepsWhatAnUnfinishedBackfillStillNeeds() async throws {
        let directory = DataDirectory(self)
        var configured = EngineOptions(dataDirectory: directory.path)
        configured.segmentSizeBytes = 4 << 10
        // Phase 1: traffic before any meter exists, kept (long retention).
        var engine = try MeterEngine.open(options: configured)
        let now = EngineOptions.systemClock()
        for batch in 0..<60 {
            _ = try await engine.ingest(events: (0..<5).map { usageEvent("e\(batch)-\($0)", tokens: 2, at: now) })
        }
        await engine.shutdown()
        // Phase 2: a tiny retention and a snapshot after every record. The backfill reads one
        // record per step, so snapshots (and retention) run while it is unfinished: segments it
        // has not read yet must survive them.
        configured.snapshotEveryRecords = 1
        configured.snapshotMinimumLogGrowth = 0
        configured.backfillRecordsPerStep = 1
        configured.retentionMilliseconds = 1
        engine = try MeterEngine.open(options: configured)
        _ = try await engine.createMeter(tokensMeter)
        while try await !engine.meter(.eventName("tokens_used")).backfill.isComplete { await Task.yield() }
        let counted = try await total(engine, from: now - 3_600_000, to: now + 3_600_000)
        XCTAssertEqual(counted, ExactDecimal(600))
        let status = try await statusOnceRetentionRan(engine)
        XCTAssertGreaterThan(status.firstRetainedSequence, 1, "once the backfill is done, old segments may go")
        await engine.shutdown()
    }

    /// Retention's deletes run on the snapshot thread: with the delete held, the writer keeps
    /// acknowledging ingest (it would wait on the held hook, and miss the deadline, if it
    /// deleted the files itself), the files are still there, and they go once it is released.
    func testTheWriterAcknowledgesIngestWhileRetentionDeletesSegments() async throws {
        let directory = DataDirectory(self)
        let gate = HookGate()
        gate.arm(1)
        let held = NamesBox()
        var configured = EngineOptions(dataDirectory: directory.path)
        configured.segmentSizeBytes = 4 << 10
        configured.snapshotEveryRecords = 40
        configured.retentionMilliseconds = 1
        configured.beforeSegmentDelete = { names in
            held.set(names)
            gate.hold()
        }
        let engine = try MeterEngine.open(options: configured)
        _ = try await engine.createMeter(tokensMeter)
        let now = EngineOptions.systemClock()
        var batch = 0
        // Ingest until retention detached segments and the snapshot thread is held deleting them.
        var reached = DispatchTimeoutResult.timedOut
        while reached == .timedOut && batch < 2_000 {
            let events = (0..<5).map { usageEvent("e\(batch)-\($0)", customer: "c\($0)", tokens: 1, at: now) }
            let acknowledged = await acknowledgedWithin10Seconds(engine, events)
            XCTAssertTrue(acknowledged, "ingest waited for retention")
            guard acknowledged else { break }
            batch += 1
            reached = gate.reached.wait(timeout: .now())
        }
        XCTAssertEqual(reached, .success, "retention never started deleting")
        let doomed = held.names
        XCTAssertFalse(doomed.isEmpty)
        XCTAssertTrue(doomed.allSatisfy { (try? directory.files().contains($0)) == true }, "deleted before the hook")

        // Held: 50 more batches must be acknowledged.
        for index in 0..<50 {
            let acknowledged = await acknowledgedWithin10Seconds(engine, [usageEvent("during-\(index)", customer: "c0", tokens: 2, at: now)])
            XCTAssertTrue(acknowledged, "ingest waited for retention")
            guard acknowledged else { break }
        }
        let status = await engine.status()
        XCTAssertNil(status.failure)
        XCTAssertGreaterThan(status.firstRetainedSequence, 1, "the writer detached the old segments")

        gate.release.signal()
        let counted = try await total(engine, from: now - 3_600_000, to: now + 3_600_000)
        XCTAssertEqual(counted, ExactDecimal(Int64(batch * 5 + 100)))
        await engine.shutdown()
        let left = try directory.files()
        XCTAssertTrue(doomed.allSatisfy { !left.contains($0) }, "retention's segments were not deleted")
        XCTAssertEqual(left.filter { $0.hasSuffix(".deleting") }, [])
        // Reopened, the same usage.
        let reopened = try MeterEngine.open(options: EngineOptions(dataDirectory: directory.path))
        let reopenedTotal = try await total(reopened, from: now - 3_600_000, to: now + 3_600_000)
        XCTAssertEqual(reopenedTotal, ExactDecimal(Int64(batch * 5 + 100)))
        await reopened.shutdown()
    }

    /// Whether the engine acknowledged `events` (each accepted) within 10 s.
    private func acknowledgedWithin10Seconds(_ engine: MeterEngine, _ events: [UsageEvent]) async -> Bool {
        await Task.detached { () -> Bool in
            let done = DispatchSemaphore(value: 0)
            let accepted = NamesBox()
            engine.ingest(events: events) { result in
                if case .success(let results) = result, results.count == events.count { accepted.set(["ok"]) }
                done.signal()
            }
            return done.wait(timeout: .now() + 10) == .success && accepted.names == ["ok"]
        }.value
    }

    /// The names the hook saw.
    final class NamesBox: @unchecked Sendable {
        private let lock = NSLock()
        private var value: [String] = []
        func set(_ names: [String]) { lock.withLock { value = names } }
        var names: [String] { lock.withLock { value } }
    }

    /// The engine's status once retention deleted a first segment, or at a 30 s deadline (the
    /// caller's assertions then fail).
    private func statusOnceRetentionRan(_ engine: MeterEngine) async throws -> EngineStatus {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let status = await engine.status()
            if status.firstRetainedSequence > 1 || ContinuousClock.now > deadline { return status }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
