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
        let segments = try directory.files().filter { $0.hasSuffix(".wal") }
        XCTAssertFalse(segments.contains("log-00000000000000000001.wal"))
        let before = try await stateBytes(engine)
        let counted = try await total(engine, from: now - 3_600_000, to: now + 3_600_000)
        XCTAssertEqual(counted, ExactDecimal(500))
        await engine.shutdown()

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
