import Foundation
import MeterCore
import MeterEngine
import XCTest

/// The exactly-once index in the engine: its cap (RESOURCE_EXHAUSTED before anything is
/// written, duplicates still answered, room again after expiry, replay never refused), the data
/// directory's dedup key, and recovery of a data directory written before the index existed.
final class DedupIndexEngineTests: XCTestCase {
    func ids(_ prefix: String, _ range: Range<Int>, at time: Int64 = engineStart) -> [UsageEvent] {
        range.map { usageEvent("\(prefix)-\($0)", tokens: 1, at: time) }
    }

    func testCapRefusesNewEventsAnswersDuplicatesAndFreesRoomAfterExpiry() async throws {
        let directory = DataDirectory(self)
        let clock = ManualClock(engineStart)
        var settings = options(directory, clock: clock)
        settings.core.limits.dedupMaximumIds = 10
        let engine = try MeterEngine.open(options: settings)
        _ = try await engine.createMeter(tokensMeter)
        let first = try await engine.ingest(events: ids("evt", 0..<10))
        XCTAssertEqual(first, Array(repeating: .accepted(.counted), count: 10))
        var status = await engine.status()
        XCTAssertEqual(status.dedupIndex.entries, 10)
        XCTAssertEqual(status.dedupIndex.maximumEntries, 10)
        XCTAssertGreaterThan(status.dedupIndex.bytes, 0)
        let sequenceWhenFull = status.lastAppliedSequence

        // Full: a new event (alone or with remembered ids) is refused, nothing is written.
        for batch in [ids("new", 0..<1), ids("evt", 0..<3) + ids("new", 0..<1)] {
            let refused = await outcome { () async throws(EngineError) in try await engine.ingest(events: batch) }
            guard case .failure(.resourceExhausted(let message)) = refused else {
                XCTFail("expected RESOURCE_EXHAUSTED, got \(refused)")
                continue
            }
            XCTAssertTrue(message.contains("exactly-once index is full (10 of at most 10 event ids"), message)
            XCTAssertTrue(message.contains("retry"), message)
        }
        // Remembered ids are still answered as duplicates.
        let duplicates = try await engine.ingest(events: ids("evt", 0..<10))
        XCTAssertEqual(duplicates, Array(repeating: .duplicate, count: 10))
        status = await engine.status()
        XCTAssertEqual(status.lastAppliedSequence, sequenceWhenFull)
        let totalWhenFull = try await total(engine)
        XCTAssertEqual(totalWhenFull, ExactDecimal(10))

        // Past the dedup window (48 h) the ids expire and there is room again.
        clock.advance(by: 48 * 3_600_000 + 1)
        let later = try await engine.ingest(events: ids("new", 0..<10, at: clock.read()))
        XCTAssertEqual(later, Array(repeating: .accepted(.counted), count: 10))
        let overflow = await outcome { () async throws(EngineError) in try await engine.ingest(events: self.ids("more", 0..<1, at: clock.read())) }
        guard case .failure(.resourceExhausted) = overflow else { return XCTFail("expected RESOURCE_EXHAUSTED, got \(overflow)") }
        await engine.shutdown()
    }

    /// Requests queued together share one group commit (and overlap the unapplied one before
    /// it): the cap counts every id accepted so far, so exactly the room is accepted, however
    /// the writer groups them, and refused requests leave no pending ids behind.
    func testCapHoldsWithinAndAcrossGroupCommits() async throws {
        let directory = DataDirectory(self)
        var settings = options(directory)
        settings.core.limits.dedupMaximumIds = 10
        let engine = try MeterEngine.open(options: settings)
        _ = try await engine.createMeter(tokensMeter)
        let results = await withTaskGroup(of: Result<[EventResult], EngineError>.self) { group in
            for number in 0..<30 {
                group.addTask {
                    await withCheckedContinuation { continuation in
                        engine.ingest(events: [usageEvent("evt-\(number % 25)", tokens: 1)]) { continuation.resume(returning: $0) }
                    }
                }
            }
            var all: [Result<[EventResult], EngineError>] = []
            for await result in group { all.append(result) }
            return all
        }
        let accepted = results.filter { if case .success(let events) = $0 { return events == [.accepted(.counted)] } else { return false } }.count
        let refused = results.filter { if case .failure(.resourceExhausted) = $0 { return true } else { return false } }.count
        XCTAssertEqual(accepted, 10)
        XCTAssertEqual(accepted + refused + results.filter { (try? $0.get()) == [.duplicate] }.count, 30)
        let status = await engine.status()
        XCTAssertEqual(status.dedupIndex.entries, 10)
        let counted = try await total(engine)
        XCTAssertEqual(counted, ExactDecimal(10))
        await engine.shutdown()
    }

    /// A lower cap on restart never refuses what the log and snapshot hold.
    func testReplayIsNeverRefusedByTheCap() async throws {
        let directory = DataDirectory(self)
        let clock = ManualClock(engineStart)
        var settings = options(directory, clock: clock)
        settings.snapshotEveryRecords = .max
        let engine = try MeterEngine.open(options: settings)
        _ = try await engine.createMeter(tokensMeter)
        _ = try await engine.ingest(events: ids("evt", 0..<20))
        _ = try await engine.ingest(events: ids("log", 0..<5))
        await engine.shutdown()

        settings.core.limits.dedupMaximumIds = 5
        let reopened = try MeterEngine.open(options: settings)
        let status = await reopened.status()
        XCTAssertEqual(status.dedupIndex.entries, 25)
        let reopenedTotal = try await total(reopened)
        XCTAssertEqual(reopenedTotal, ExactDecimal(25))
        let duplicates = try await reopened.ingest(events: ids("evt", 0..<20))
        XCTAssertEqual(duplicates, Array(repeating: .duplicate, count: 20))
        let refused = await outcome { () async throws(EngineError) in try await reopened.ingest(events: self.ids("new", 0..<1)) }
        guard case .failure(.resourceExhausted) = refused else { return XCTFail("expected RESOURCE_EXHAUSTED, got \(refused)") }
        await reopened.shutdown()
    }

    func testDataDirectoryKeyIsCreatedOnceKeptAndChecked() async throws {
        let directory = DataDirectory(self)
        let engine = try MeterEngine.open(options: options(directory))
        _ = try await engine.createMeter(tokensMeter)
        _ = try await engine.ingest(events: ids("evt", 0..<5))
        await engine.shutdown()   // writes a snapshot
        let path = directory.path + "/dedup-key"
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let key = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(key.count, 33)
        XCTAssertNotNil(DedupKey(hexadecimal: key.dropLast()))

        let reopened = try MeterEngine.open(options: options(directory))
        let duplicates = try await reopened.ingest(events: ids("evt", 0..<5))
        XCTAssertEqual(duplicates, Array(repeating: .duplicate, count: 5))
        await reopened.shutdown()
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), key)

        // A lost key: the snapshot's fingerprints cannot be trusted, so recovery refuses.
        try FileManager.default.removeItem(atPath: path)
        XCTAssertThrowsError(try MeterEngine.open(options: options(directory))) { error in
            XCTAssertTrue("\(error)".contains("another dedup key"), "\(error)")
        }
        // A damaged key file is refused too.
        try "not a key\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try MeterEngine.open(options: options(directory))) { error in
            XCTAssertTrue("\(error)".contains("32 lowercase hex digits"), "\(error)")
        }
    }

    /// `Inputs/datadir.before-fingerprints` was written by meterd at commit 6c78891 (before this
    /// index): snapshot format 1 with the ids as strings (5 events of tenant "default" and 3 of
    /// tenant "other") and, after it, 2 log records (4 more events for each tenant), no key file.
    func testRecoversADataDirectoryWrittenBeforeFingerprints() async throws {
        let directory = DataDirectory(self)
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Inputs/datadir.before-fingerprints").path
        try FileManager.default.copyItem(atPath: fixture, toPath: directory.path)
        // The fixture's events carry this timestamp and were accepted within a minute of it.
        let written: Int64 = 1_795_928_708_000
        let clock = ManualClock(written + 3_600_000)
        let engine = try MeterEngine.open(options: options(directory, clock: clock))
        XCTAssertEqual(engine.recovery.snapshotSequence, 4)
        XCTAssertEqual(engine.recovery.replayedRecords, 2)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.path + "/dedup-key"))

        func count(_ engine: MeterEngine, tenant: String, customer: String) async throws -> Int64 {
            let hour: Int64 = 3_600_000
            let query = UsageQuery(tenantId: tenant, meter: .eventName("calls"), fromMilliseconds: written / hour * hour - hour,
                                   toMilliseconds: written / hour * hour + 3 * hour, customerId: customer)
            return try await engine.usage(query).rows.first?.eventCount ?? -1
        }
        func resend(_ engine: MeterEngine) async throws {
            let snapshotIds = (1...5).map { UsageEvent(eventId: "snap-\($0)", eventName: "calls", customerId: "acme", timestampMilliseconds: written) }
            let logIds = (1...4).map { UsageEvent(eventId: "log-\($0)", eventName: "calls", customerId: "acme", timestampMilliseconds: written) }
            let defaultResults = try await engine.ingest(tenantId: "default", events: snapshotIds + logIds)
            XCTAssertEqual(defaultResults, Array(repeating: .duplicate, count: 9))
            let otherResults = try await engine.ingest(tenantId: "other", events: Array(snapshotIds.prefix(3)) + logIds)
            XCTAssertEqual(otherResults, Array(repeating: .duplicate, count: 7))
        }
        var defaultCount = try await count(engine, tenant: "default", customer: "acme")
        XCTAssertEqual(defaultCount, 9)
        var otherCount = try await count(engine, tenant: "other", customer: "acme")
        XCTAssertEqual(otherCount, 4)
        try await resend(engine)
        // "snap-4" of tenant "other" was never sent there: it counts.
        let fresh = try await engine.ingest(tenantId: "other", events: [UsageEvent(eventId: "snap-4", eventName: "calls", customerId: "globex", timestampMilliseconds: written)])
        XCTAssertEqual(fresh, [.accepted(.counted)])
        await engine.shutdown()   // writes a format 2 snapshot

        let reopened = try MeterEngine.open(options: options(directory, clock: clock))
        XCTAssertEqual(reopened.recovery.replayedRecords, 0)
        try await resend(reopened)
        defaultCount = try await count(reopened, tenant: "default", customer: "acme")
        XCTAssertEqual(defaultCount, 9)
        otherCount = try await count(reopened, tenant: "other", customer: "globex")
        XCTAssertEqual(otherCount, 4)
        await reopened.shutdown()
    }
}
