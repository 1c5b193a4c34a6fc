@testable import MeterCore
import XCTest

/// The exactly-once index (fingerprints, time buckets, the slot table) against a plain model,
/// with fingerprints cut to a few bits so that collisions, long probe runs, reuse and sweeping
/// of expired slots, chunk and bucket boundaries all happen; and snapshot + restore in the middle.
///
/// With weak fingerprints two distinct ids that share one count as one id: that is why
/// production keeps all 128 keyed bits (docs/architecture.md); these tests only show that the
/// index decides exactly by fingerprint, whatever the fingerprints are.
final class EventIdIndexTests: XCTestCase {
    static let windowMilliseconds: Int64 = 10 * 60_000

    static func configuration(bits: Int) -> MeterCoreConfiguration {
        var configuration = MeterCoreConfiguration()
        configuration.lateWindowMilliseconds = 5 * 60_000
        configuration.futureSkewMilliseconds = 60_000
        configuration.dedupWindowMilliseconds = windowMilliseconds
        configuration.minuteRetentionMilliseconds = 20 * 60_000
        configuration.dedupFingerprintBits = bits
        configuration.dedupKey = DedupKey(first: 0x1234, second: 0x5678)
        return configuration
    }

    /// Random batches over many expiry buckets; screening, apply outcomes and counts compared
    /// with a model keyed by fingerprint; a restored copy replaces the machine now and then, and
    /// a machine that was never restored must end with identical snapshot bytes.
    func checkAgainstModel(bits: Int, idPool: Int, steps: Int, seed: UInt64, restoreEvery: Int) throws {
        let configuration = Self.configuration(bits: bits)
        let fingerprinter = EventFingerprinter(key: configuration.dedupKey, bits: bits)
        var machine = MeterStateMachine(configuration: configuration)
        let neverRestored = MeterStateMachine(configuration: configuration)
        var generator = IndexTestGenerator(seed: seed)
        var lastAccepted: [UInt128: Int64] = [:]
        var counted: [String: Int] = [:]
        var now = baseTime
        var sequence: UInt64 = 1
        let meterRecord = StateRecord.meterCreated(MeterDefinition(eventName: "calls", displayName: "Calls", aggregation: .count), atMilliseconds: now)
        for tenant in ["default", "other"] {
            var record = meterRecord
            if case .meterCreated(var definition, let at) = record { definition.tenantId = tenant; record = .meterCreated(definition, atMilliseconds: at) }
            machine.apply(record, sequence: sequence)
            neverRestored.apply(record, sequence: sequence)
            sequence += 1
        }
        for step in 0..<steps {
            now += Int64.random(in: 0...(90_000), using: &generator)
            let tenant = Bool.random(using: &generator) ? "default" : "other"
            let batch = (0..<Int.random(in: 1...40, using: &generator)).map { _ in
                UsageEvent(eventId: "id-\(Int.random(in: 0..<idPool, using: &generator))", eventName: "calls", customerId: "c", timestampMilliseconds: now)
            }
            var pending = Set<String>()
            let screening = machine.screen(batch, tenantId: tenant, nowMilliseconds: now, pendingEventIds: &pending)
            var modelPending = Set<String>()
            for (event, screened) in zip(batch, screening) {
                let fingerprint = fingerprinter.fingerprint(tenantId: tenant, eventId: event.eventId)
                let remembered = (lastAccepted[fingerprint] ?? .min) >= now - Self.windowMilliseconds
                let expected: EventScreening = remembered || !modelPending.insert(event.eventId).inserted ? .duplicate : .accept
                XCTAssertEqual(screened, expected, "step \(step) \(event.eventId)")
            }
            let accepted = zip(batch, screening).filter { $0.1 == .accept }.map(\.0)
            guard !accepted.isEmpty else { continue }
            let record = StateRecord.eventsAccepted(tenantId: tenant, acceptedAtMilliseconds: now, events: accepted)
            let outcome = machine.apply(record, sequence: sequence)
            neverRestored.apply(record, sequence: sequence)
            sequence += 1
            var expectedOutcomes: [EventOutcome] = []
            for event in accepted {
                let fingerprint = fingerprinter.fingerprint(tenantId: tenant, eventId: event.eventId)
                if (lastAccepted[fingerprint] ?? .min) >= now - Self.windowMilliseconds {
                    expectedOutcomes.append(.duplicate)
                } else {
                    lastAccepted[fingerprint] = now
                    counted[tenant, default: 0] += 1
                    expectedOutcomes.append(.counted)
                }
            }
            XCTAssertEqual(outcome, .events(expectedOutcomes), "step \(step)")
            if step % restoreEvery == restoreEvery - 1 {
                let bytes = machine.snapshot()
                machine = try MeterStateMachine(snapshot: bytes, configuration: configuration)
                XCTAssertEqual(machine.snapshot(), bytes, "step \(step)")
            }
        }
        XCTAssertEqual(machine.snapshot(), neverRestored.snapshot())
        for tenant in ["default", "other"] {
            let usage = try machine.usage(UsageQuery(tenantId: tenant, meter: .eventName("calls"), fromMilliseconds: baseTime - hour, toMilliseconds: (now / minute + 1) * minute + hour))
            XCTAssertEqual(usage.rows.first?.eventCount ?? 0, Int64(counted[tenant] ?? 0), tenant)
        }
        XCTAssertGreaterThan(machine.dedupIndexFill.entries, 0)
    }

    func testThreeBitFingerprints() throws {
        try checkAgainstModel(bits: 3, idPool: 50, steps: 400, seed: 1, restoreEvery: 37)
    }

    func testTwelveBitFingerprints() throws {
        try checkAgainstModel(bits: 12, idPool: 6000, steps: 1500, seed: 2, restoreEvery: 101)
    }

    func testFullFingerprints() throws {
        try checkAgainstModel(bits: 128, idPool: 1_000_000, steps: 1500, seed: 3, restoreEvery: 211)
    }

    /// The table rebuilt in home-slot order (over 65,536 kept entries) finds, for every
    /// fingerprint, exactly its newest kept entry: with fingerprints from a small pool (ids
    /// accepted again after their window, so one fingerprint has several entries), expired
    /// buckets, and growth and snapshot-load rebuilds.
    func testRebuildInHomeOrderFindsTheNewestKeptEntryOfEveryFingerprint() {
        var generator = IndexTestGenerator(seed: 11)
        let pool = (0..<40_000).map { _ in UInt128(UInt64.random(in: 1...UInt64.max, using: &generator)) << 64 | UInt128(UInt64.random(in: 0...UInt64.max, using: &generator)) }
        var index = EventIdIndex()
        var newest: [UInt128: Int] = [:]
        let window: Int64 = 120_000
        var now = baseTime
        for _ in 0..<300_000 {
            now += Int64.random(in: 0...3, using: &generator)
            index.expire(acceptedBefore: now - 2 * window)
            let fingerprint = pool[Int.random(in: 0..<pool.count, using: &generator)]
            let position = index.tailPosition
            if index.insert(fingerprint, acceptedAtMilliseconds: now, firstLivePosition: index.firstPosition(acceptedAtOrAfter: now - window)) {
                newest[fingerprint] = position
            }
        }
        XCTAssertGreaterThan(index.count, EventIdIndex.chunkSize, "the home-order rebuild needs more entries")
        XCTAssertLessThan(newest.count, index.count, "no fingerprint was accepted twice")
        func check(_ index: EventIdIndex, _ label: String) {
            var kept = 0
            for fingerprint in pool {
                let expected = newest[fingerprint].flatMap { $0 >= index.headPosition ? $0 : nil }
                XCTAssertEqual(index.position(of: fingerprint), expected, label)
                if expected != nil { kept += 1 }
            }
            XCTAssertGreaterThan(kept, 1000, label)
        }
        check(index, "after growth")
        index.rebuild(maximumLoadEighths: 5, shrinking: true)
        check(index, "after a rebuild as at snapshot load")
    }

    /// Enough entries to fill several 65,536-entry chunks, grow the table many times and sweep it.
    func testManyEntriesAcrossChunksAndExpiry() throws {
        let configuration = Self.configuration(bits: 128)
        let machine = MeterStateMachine(configuration: configuration)
        var sequence: UInt64 = 0
        var now = baseTime
        for round in 0..<30 {
            now += 60_000
            let events = (0..<10_000).map { UsageEvent(eventId: "bulk-\(round)-\($0)", eventName: "none", customerId: "c", timestampMilliseconds: now) }
            sequence += 1
            machine.apply(.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: now, events: events), sequence: sequence)
        }
        // Ids older than the window (10 minutes) expired by bucket; newer ones are remembered.
        var pending = Set<String>()
        let probe = [UsageEvent(eventId: "bulk-29-5", eventName: "none", customerId: "c", timestampMilliseconds: now),
                     UsageEvent(eventId: "bulk-2-5", eventName: "none", customerId: "c", timestampMilliseconds: now)]
        XCTAssertEqual(machine.screen(probe, tenantId: Tenant.defaultId, nowMilliseconds: now, pendingEventIds: &pending), [.duplicate, .accept])
        let fill = machine.dedupIndexFill
        XCTAssertLessThanOrEqual(fill.entries, 12 * 10_000)
        XCTAssertGreaterThanOrEqual(fill.entries, 10 * 10_000)
        let restored = try MeterStateMachine(snapshot: machine.snapshot(), configuration: configuration)
        pending = []
        XCTAssertEqual(restored.screen(probe, tenantId: Tenant.defaultId, nowMilliseconds: now, pendingEventIds: &pending), [.duplicate, .accept])
        XCTAssertEqual(restored.dedupIndexFill.entries, fill.entries)
        XCTAssertEqual(machine.dedupIndexRoom(nowMilliseconds: now), configuration.limits.dedupMaximumIds - 110_000)
    }

    /// Distinct ids with different fingerprints are both counted, the same id twice is a
    /// duplicate, in separate buckets and after a restore; two ids sharing a (weak) fingerprint
    /// count once.
    func testWeakFingerprintsDecideByFingerprint() throws {
        let configuration = Self.configuration(bits: 6)
        let fingerprinter = EventFingerprinter(key: configuration.dedupKey, bits: 6)
        let ids = (0..<200).map { "evt-\($0)" }
        let first = ids[0]
        let different = try XCTUnwrap(ids.first { fingerprinter.fingerprint(tenantId: "default", eventId: $0) != fingerprinter.fingerprint(tenantId: "default", eventId: first) })
        let colliding = try XCTUnwrap(ids.dropFirst().first { fingerprinter.fingerprint(tenantId: "default", eventId: $0) == fingerprinter.fingerprint(tenantId: "default", eventId: first) })
        let harness = Harness(configuration: configuration)
        try harness.create(MeterDefinition(eventName: "calls", displayName: "Calls", aggregation: .count))
        XCTAssertEqual(harness.ingest([event(first, "calls")]).outcomes, [.counted])
        // Another bucket (65.5 s later), then a restore.
        XCTAssertEqual(harness.ingest([event(different, "calls", at: baseTime + 70_000)], now: baseTime + 70_000).outcomes, [.counted])
        let restoredMachine = try MeterStateMachine(snapshot: harness.machine.snapshot(), configuration: configuration)
        var pending = Set<String>()
        let now = baseTime + 140_000
        let screening = restoredMachine.screen([event(first, "calls", at: now), event(different, "calls", at: now), event(colliding, "calls", at: now)],
                                               tenantId: Tenant.defaultId, nowMilliseconds: now, pendingEventIds: &pending)
        XCTAssertEqual(screening, [.duplicate, .duplicate, .duplicate])
        // After the window both are forgotten and count again.
        let later = baseTime + Self.windowMilliseconds + 140_000
        pending = []
        XCTAssertEqual(restoredMachine.screen([event(first, "calls", at: later), event(different, "calls", at: later)],
                                              tenantId: Tenant.defaultId, nowMilliseconds: later, pendingEventIds: &pending), [.accept, .accept])
    }

    func testSnapshotWithAnotherKeyIsRefused() throws {
        var configuration = Self.configuration(bits: 128)
        let machine = MeterStateMachine(configuration: configuration)
        machine.apply(.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: baseTime, events: [event("evt-1")]), sequence: 1)
        let bytes = machine.snapshot()
        configuration.dedupKey = DedupKey(first: 9, second: 9)
        XCTAssertThrowsError(try MeterStateMachine(snapshot: bytes, configuration: configuration)) { error in
            XCTAssertTrue("\(error)".contains("another dedup key"), "\(error)")
        }
    }

    /// Every cut of a snapshot with a non-empty index is refused with an error, never a crash.
    func testTruncatedSnapshotsAreRefused() {
        let configuration = Self.configuration(bits: 128)
        let machine = MeterStateMachine(configuration: configuration)
        machine.apply(.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: baseTime,
                                      events: (0..<20).map { event("evt-\($0)") }), sequence: 1)
        machine.apply(.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: baseTime + 100_000,
                                      events: (20..<30).map { event("evt-\($0)", at: baseTime + 100_000) }), sequence: 2)
        let bytes = machine.snapshot()
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try MeterStateMachine(snapshot: Array(bytes[..<length]), configuration: configuration), "cut at \(length)")
        }
        XCTAssertNoThrow(try MeterStateMachine(snapshot: bytes, configuration: configuration))
    }

    func testConfigurationLimits() {
        var configuration = MeterCoreConfiguration()
        configuration.dedupFingerprintBits = 0
        configuration.limits.dedupMaximumIds = 0
        XCTAssertEqual(configuration.problems.count, 2)
    }
}

/// SplitMix64, for repeatable random tests.
struct IndexTestGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
