import Foundation
import MeterCore
import MeterEngine
import MeterLog
import XCTest

final class EngineTests: XCTestCase {
    func testAcceptedEventsSurviveARestart() async throws {
        let directory = DataDirectory(self)
        let clock = ManualClock(engineStart)
        var engine = try MeterEngine.open(options: options(directory, clock: clock))
        let meter = try await engine.createMeter(tokensMeter)
        let results = try await engine.ingest(events: [usageEvent("a", tokens: 5), usageEvent("b", tokens: 7), usageEvent("a", tokens: 9)])
        XCTAssertEqual(results, [.accepted(.counted), .accepted(.counted), .duplicate])
        await engine.shutdown()
        engine = try MeterEngine.open(options: options(directory, clock: clock))
        let observed1 = try await total(engine)
        XCTAssertEqual(observed1, ExactDecimal(12))
        let observed2 = try await engine.meter(.id(meter.id)).definition
        XCTAssertEqual(observed2, tokensMeter)
        let observed3 = try await engine.ingest(events: [usageEvent("b", tokens: 1)])
        XCTAssertEqual(observed3, [.duplicate])
        await engine.shutdown()
    }

    func testAdminErrorsAreRejectionsWithCodes() async throws {
        let directory = DataDirectory(self)
        let engine = try MeterEngine.open(options: options(directory))
        _ = try await engine.createMeter(tokensMeter)
        let second = await outcome { () async throws(EngineError) in try await engine.createMeter(tokensMeter) }
        guard case .failure(.rejected(let exists)) = second else { return XCTFail("second meter with the same event name was created") }
        XCTAssertEqual(exists.code, .meterAlreadyExists)
        let missing = await outcome { () async throws(EngineError) in try await engine.archiveMeter(meter: .eventName("nothing")) }
        guard case .failure(.rejected(let notFound)) = missing else { return XCTFail("archived a meter that does not exist") }
        XCTAssertEqual(notFound.code, .meterNotFound)
        let renamed = try await engine.updateDisplayName(meter: .eventName("tokens_used"), displayName: "Llama tokens")
        XCTAssertEqual(renamed.definition.displayName, "Llama tokens")
        await engine.shutdown()
    }

    func testTwoCreatesOfOneNameInOneGroupCreateOneMeter() async throws {
        let directory = DataDirectory(self)
        let engine = try MeterEngine.open(options: options(directory))
        async let first = outcome { () async throws(EngineError) -> Meter in try await engine.createMeter(tokensMeter) }
        async let second = outcome { () async throws(EngineError) -> Meter in try await engine.createMeter(tokensMeter) }
        let outcomes = await [first, second]
        XCTAssertEqual(outcomes.filter { (try? $0.get()) != nil }.count, 1)
        let observed4 = try await engine.read { $0.meters(tenantId: Tenant.defaultId).count }
        XCTAssertEqual(observed4, 1)
        await engine.shutdown()
    }

    func testAFullQueueAnswersResourceExhaustedAndLosesNothing() async throws {
        let directory = DataDirectory(self)
        var configured = options(directory)
        configured.queueCapacityEvents = 10
        let engine = try MeterEngine.open(options: configured)
        _ = try await engine.createMeter(tokensMeter)
        let tooMany = (0..<11).map { usageEvent("e\($0)", tokens: 1) }
        let refused = await outcome { () async throws(EngineError) in try await engine.ingest(events: tooMany) }
        guard case .failure(.resourceExhausted(let message)) = refused else { return XCTFail("a batch larger than the queue was accepted") }
        XCTAssertTrue(message.contains("retry"))
        let observed5 = try await engine.ingest(events: Array(tooMany.prefix(10))).count
        XCTAssertEqual(observed5, 10)
        let observed6 = try await total(engine)
        XCTAssertEqual(observed6, ExactDecimal(10))
        await engine.shutdown()
    }

    func testConcurrentWritersAreEachAnsweredAndEveryEventCountsOnce() async throws {
        let directory = DataDirectory(self)
        let engine = try MeterEngine.open(options: options(directory))
        _ = try await engine.createMeter(tokensMeter)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    for batch in 0..<20 {
                        let events = (0..<5).map { usageEvent("w\(writer)-\(batch)-\($0)", customer: "c\(writer)", tokens: 1) }
                        let results = try await engine.ingest(events: events)
                        XCTAssertEqual(results, Array(repeating: .accepted(.counted), count: 5))
                    }
                }
            }
            try await group.waitForAll()
        }
        let observed7 = try await total(engine)
        XCTAssertEqual(observed7, ExactDecimal(800))
        let status = await engine.status()
        // The meter, its (empty) backfill's progress, and at most one record per request.
        XCTAssertLessThanOrEqual(status.lastAppliedSequence, 2 + 160)
        XCTAssertNil(status.failure)
        await engine.shutdown()
    }

    func testBadEventsAreRejectedWhileTheRestOfTheBatchProceeds() async throws {
        let directory = DataDirectory(self)
        let clock = ManualClock(engineStart)
        let engine = try MeterEngine.open(options: options(directory, clock: clock))
        _ = try await engine.createMeter(tokensMeter)
        let results = try await engine.ingest(events: [
            usageEvent("ok", tokens: 3),
            usageEvent("", tokens: 3),
            usageEvent("old", tokens: 3, at: engineStart - 30 * 3_600_000),
            usageEvent("nometer", tokens: 3, name: "unknown_name"),
        ])
        XCTAssertEqual(results[0], .accepted(.counted))
        guard case .rejected(let missingId) = results[1], case .rejected(let tooOld) = results[2] else {
            return XCTFail("bad events were not rejected: \(results)")
        }
        XCTAssertEqual(missingId.code, .invalidEventId)
        XCTAssertEqual(tooOld.code, .timestampTooOld)
        XCTAssertEqual(results[3], .accepted(.noActiveMeter))
        let observed8 = try await total(engine)
        XCTAssertEqual(observed8, ExactDecimal(3))
        await engine.shutdown()
    }

    func testBackfillCountsEventsSentBeforeTheMeterExistedIncrementallyAndDeterministically() async throws {
        let directory = DataDirectory(self)
        let clock = ManualClock(engineStart)
        var configured = options(directory, clock: clock)
        // One record per step: ten steps, each with its own fsynced progress record, so the
        // test's reads (between steps) see several of them.
        configured.backfillRecordsPerStep = 1
        var engine = try MeterEngine.open(options: configured)
        for batch in 0..<10 {
            _ = try await engine.ingest(events: (0..<10).map { usageEvent("old-\(batch)-\($0)", tokens: Int64($0)) })
        }
        let meter = try await engine.createMeter(tokensMeter)
        XCTAssertEqual(meter.backfill.targetSequence, 11)
        // Live events count at once; the backfill catches up in steps between requests.
        _ = try await engine.ingest(events: [usageEvent("new", tokens: 1000)])
        var progress: [UInt64] = []
        while true {
            let current = try await engine.meter(.id(meter.id)).backfill
            if progress.last != current.completedThroughSequence { progress.append(current.completedThroughSequence) }
            if current.isComplete { break }
            await Task.yield()
        }
        XCTAssertGreaterThan(progress.count, 1, "backfill should report progress in several steps: \(progress)")
        let observed9 = try await total(engine)
        XCTAssertEqual(observed9, ExactDecimal(10 * 45 + 1000))
        let before = try await stateBytes(engine)
        await engine.shutdown()

        // Recovery from the newest snapshot and recovery from the log alone agree.
        engine = try MeterEngine.open(options: configured)
        let observed10 = try await stateBytes(engine)
        XCTAssertEqual(observed10, before)
        await engine.shutdown()
        for file in try directory.files() where file.hasPrefix("snapshot-") {
            try FileManager.default.removeItem(atPath: directory.path + "/" + file)
        }
        engine = try MeterEngine.open(options: configured)
        XCTAssertEqual(engine.recovery.snapshotSequence, 0)
        let observed11 = try await stateBytes(engine)
        XCTAssertEqual(observed11, before)
        await engine.shutdown()
    }

    func testSnapshotPlusReplayEqualsReplayFromScratchAndRecoveryIsRepeatable() async throws {
        let directory = DataDirectory(self)
        let clock = ManualClock(engineStart)
        var configured = options(directory, clock: clock)
        configured.snapshotEveryRecords = 7
        var engine = try MeterEngine.open(options: configured)
        _ = try await engine.createMeter(tokensMeter)
        _ = try await engine.createMeter(MeterDefinition(eventName: "users", displayName: "Users", aggregation: Aggregation(kind: .countUnique, field: "tokens")))
        for batch in 0..<25 {
            clock.advance(by: 61_000)
            _ = try await engine.ingest(events: (0..<4).map {
                usageEvent("e\(batch)-\($0)", customer: "c\($0)", tokens: Int64(batch), at: clock.read(), name: $0 % 2 == 0 ? "tokens_used" : "users")
            })
        }
        // Make sure some records follow the newest snapshot, so recovery has something to replay.
        // Snapshots are written in the background: wait until none is running first (then fewer
        // than 7 records follow the newest, and one more record starts none).
        var settled = try await settledStatus(engine)
        if settled.snapshotSequence == settled.lastAppliedSequence {
            clock.advance(by: 1000)
            _ = try await engine.ingest(events: [usageEvent("tail", tokens: 1, at: clock.read())])
            settled = try await settledStatus(engine)
        }
        XCTAssertGreaterThan(settled.lastAppliedSequence, settled.snapshotSequence)
        let live = try await stateBytes(engine)
        // Stop without the final snapshot, as a crash would: copy the files first.
        let copy = DataDirectory(self)
        try FileManager.default.copyItem(atPath: directory.path, toPath: copy.path)
        await engine.shutdown()
        XCTAssertTrue(try copy.files().contains { $0.hasPrefix("snapshot-") }, "snapshots should have been written every 7 records")

        var fromSnapshot = options(copy, clock: clock)
        fromSnapshot.snapshotEveryRecords = 1_000_000
        engine = try MeterEngine.open(options: fromSnapshot)
        XCTAssertGreaterThan(engine.recovery.snapshotSequence, 0)
        XCTAssertGreaterThan(engine.recovery.replayedRecords, 0)
        let observed12 = try await stateBytes(engine)
        XCTAssertEqual(observed12, live)
        await engine.shutdown()

        for file in try copy.files() where file.hasPrefix("snapshot-") {
            try FileManager.default.removeItem(atPath: copy.path + "/" + file)
        }
        for _ in 0..<2 {
            engine = try MeterEngine.open(options: fromSnapshot)
            XCTAssertEqual(engine.recovery.snapshotSequence, 0)
            let observed13 = try await stateBytes(engine)
            XCTAssertEqual(observed13, live)
            // Shutting down writes a snapshot (the replica's, which applied the replayed
            // records from their bytes too): it holds the same state.
            await engine.shutdown()
            engine = try MeterEngine.open(options: fromSnapshot)
            XCTAssertEqual(engine.recovery.snapshotSequence, settled.lastAppliedSequence)
            XCTAssertEqual(engine.recovery.replayedRecords, 0)
            let observed15 = try await stateBytes(engine)
            XCTAssertEqual(observed15, live)
            await engine.shutdown()
            // Remove the snapshots so the second pass replays from scratch too.
            for file in try copy.files() where file.hasPrefix("snapshot-") {
                try FileManager.default.removeItem(atPath: copy.path + "/" + file)
            }
        }
    }

    func testATornTailIsCutAndMidLogCorruptionIsRefusedWithItsPlace() async throws {
        let directory = DataDirectory(self)
        var engine = try MeterEngine.open(options: options(directory))
        _ = try await engine.createMeter(tokensMeter)
        for batch in 0..<5 { _ = try await engine.ingest(events: [usageEvent("e\(batch)", tokens: 1)]) }
        await engine.shutdown()
        for file in try directory.files() where file.hasPrefix("snapshot-") {
            try FileManager.default.removeItem(atPath: directory.path + "/" + file)
        }
        let segment = directory.path + "/" + (try directory.files().last { $0.hasSuffix(".wal") })!
        let original = try Data(contentsOf: URL(fileURLWithPath: segment))

        // Half a frame at the end, as a crash mid-append leaves it.
        try (original + Data(original.suffix(40).prefix(20))).write(to: URL(fileURLWithPath: segment))
        engine = try MeterEngine.open(options: options(directory))
        XCTAssertNotNil(engine.recovery.log.tornTail)
        let observed14 = try await total(engine)
        XCTAssertEqual(observed14, ExactDecimal(5))
        await engine.shutdown()
        for file in try directory.files() where file.hasPrefix("snapshot-") {
            try FileManager.default.removeItem(atPath: directory.path + "/" + file)
        }

        // A flipped byte in the first event record, with valid records after it.
        var damaged = try Data(contentsOf: URL(fileURLWithPath: segment))
        damaged[damaged.count / 3] ^= 0x40
        try damaged.write(to: URL(fileURLWithPath: segment))
        XCTAssertThrowsError(try MeterEngine.open(options: options(directory))) { error in
            guard case LogError.corruption(let name, let offset, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(segment.hasSuffix(name))
            XCTAssertGreaterThan(offset, 0)
        }
        var repair = options(directory)
        repair.repair = true
        engine = try MeterEngine.open(options: repair)
        XCTAssertFalse(engine.recovery.log.repairs.isEmpty)
        await engine.shutdown()
    }

    func testAFailedWriteIsNeverAcknowledgedAndTheEngineRefusesWritesUntilRestart() async throws {
        let directory = DataDirectory(self)
        var configured = options(directory)
        // Segments are preallocated at this size; a batch bigger than a whole segment still
        // has to grow a file past it, which the file-size limit below refuses.
        configured.segmentSizeBytes = 64 << 10
        var engine = try MeterEngine.open(options: configured)
        _ = try await engine.createMeter(tokensMeter)
        _ = try await engine.ingest(events: [usageEvent("kept", tokens: 2)])
        let size = configured.segmentSizeBytes

        // The kernel refuses to grow the file past the limit (EFBIG): a real failed write.
        let resource = __rlimit_resource_t(RLIMIT_FSIZE.rawValue)
        var saved = rlimit()
        XCTAssertEqual(getrlimit(resource, &saved), 0)
        let previousHandler = signal(SIGXFSZ, SIG_IGN)
        var limited = saved
        limited.rlim_cur = rlim_t(size + 100)
        XCTAssertEqual(setrlimit(resource, &limited), 0)
        let big = (0..<2_000).map { usageEvent("lost-\($0)", tokens: 1) }
        let failed = await outcome { () async throws(EngineError) -> [EventResult] in try await engine.ingest(events: big) }
        XCTAssertEqual(setrlimit(resource, &saved), 0)
        signal(SIGXFSZ, previousHandler)

        guard case .failure(.unavailable(let message)) = failed else { return XCTFail("a failed write was acknowledged: \(failed)") }
        XCTAssertTrue(message.contains("refuses writes"), message)
        let after = await outcome { () async throws(EngineError) in try await engine.ingest(events: [usageEvent("after", tokens: 1)]) }
        guard case .failure(.unavailable) = after else { return XCTFail("the engine accepted a write after its log failed") }
        // Reads keep working, on the durable state only.
        let observed15 = try await total(engine)
        XCTAssertEqual(observed15, ExactDecimal(2))
        let observed16 = await engine.status().failure
        XCTAssertNotNil(observed16)
        await engine.shutdown()

        engine = try MeterEngine.open(options: configured)
        let observed17 = try await total(engine)
        XCTAssertEqual(observed17, ExactDecimal(2))
        // Nothing of the failed batch was remembered: the retry is accepted.
        let retried = try await engine.ingest(events: big)
        XCTAssertEqual(retried.filter { $0 == .accepted(.counted) }.count, 2_000)
        await engine.shutdown()
    }
}
