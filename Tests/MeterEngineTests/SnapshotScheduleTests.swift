import Foundation
import MeterCore
import MeterEngine
import XCTest

/// Snapshots are written in proportion to the log: after a snapshot of S bytes, the next one
/// waits until at least S bytes of log were appended (`snapshotMinimumLogGrowth` = 1), so a big
/// state is not re-serialized every `snapshotEveryRecords` records.
final class SnapshotScheduleTests: XCTestCase {
    /// Ingests `records` single-event records and counts the distinct snapshots the engine wrote.
    private func snapshotsWritten(records: Int, growth: Double) async throws -> Int {
        let directory = DataDirectory(self)
        var configured = EngineOptions(dataDirectory: directory.path)
        configured.snapshotEveryRecords = 1
        configured.snapshotMinimumLogGrowth = growth
        let engine = try MeterEngine.open(options: configured)
        _ = try await engine.createMeter(tokensMeter)
        let now = EngineOptions.systemClock()
        var sequences = Set<UInt64>()
        for index in 0..<records {
            _ = try await engine.ingest(events: [usageEvent("event-\(index)", customer: "c\(index % 7)", tokens: 1, at: now)])
            // Snapshots are written on the replica thread; let each one that is due finish
            // before the next record, so the count shows the schedule, not this machine's speed.
            let status = try await settledStatus(engine, growth: growth)
            if status.snapshotSequence > 0 { sequences.insert(status.snapshotSequence) }
        }
        let counted = try await total(engine, from: now - 3_600_000, to: now + 3_600_000)
        XCTAssertEqual(counted, ExactDecimal(Int64(records)))
        await engine.shutdown()
        return sequences.count
    }

    /// The status once no snapshot is due or running: with the growth rule off, every record
    /// makes one due, so this waits (polling, with a deadline) until the newest covers the log;
    /// with it on, until the one asked for (if any) was written and collected. Without the
    /// wait, a snapshot thread slowed by a busy machine would skip due snapshots.
    private func settledStatus(_ engine: MeterEngine, growth: Double) async throws -> EngineStatus {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let status = await engine.status()
            if growth > 0 ? !status.snapshotInProgress : status.snapshotSequence == status.lastAppliedSequence { return status }
            guard ContinuousClock.now < deadline else {
                XCTFail("the snapshot of \(status.lastAppliedSequence) did not finish")
                return status
            }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    func testSnapshotsWaitUntilTheLogGrewByTheLastSnapshotsSize() async throws {
        // The state grows with every remembered id, so each snapshot is larger than the last and
        // the gaps between snapshots grow geometrically: a few dozen snapshots for 400 records.
        let proportional = try await snapshotsWritten(records: 400, growth: 1)
        XCTAssertGreaterThanOrEqual(proportional, 3, "snapshots must still be written")
        XCTAssertLessThan(proportional, 40, "a snapshot was written before the log grew by the previous one's size")
    }

    func testWithoutTheGrowthRuleEveryDueRecordSnapshots() async throws {
        let everyRecord = try await snapshotsWritten(records: 100, growth: 0)
        XCTAssertGreaterThan(everyRecord, 50)
    }
}
