import MeterCore
import XCTest

final class EventIngestTests: XCTestCase {
    private func rejection(_ event: UsageEvent, now: Int64 = baseTime) -> RejectionCode? {
        var pending = Set<String>()
        let result = MeterStateMachine().screen([event], tenantId: Tenant.defaultId, nowMilliseconds: now, pendingEventIds: &pending)
        if case .rejected(let error) = result[0] {
            XCTAssertFalse(error.message.isEmpty)
            return error.code
        }
        return nil
    }

    func testEveryEventValidationError() {
        let limits = EventLimits()
        XCTAssertNil(rejection(event("e1")))
        XCTAssertEqual(rejection(event("")), .invalidEventId)
        XCTAssertEqual(rejection(event(String(repeating: "x", count: limits.eventIdMaximumBytes + 1))), .invalidEventId)
        XCTAssertEqual(rejection(event("line\nbreak")), .invalidEventId)
        XCTAssertEqual(rejection(event("e1", "Bad Name")), .invalidEventName)
        XCTAssertEqual(rejection(event("e1", customer: "")), .invalidCustomerId)
        XCTAssertEqual(rejection(event("e1", customer: String(repeating: "c", count: limits.customerIdMaximumBytes + 1))), .invalidCustomerId)
        let configuration = MeterCoreConfiguration()
        XCTAssertNil(rejection(event("e1", at: baseTime - configuration.lateWindowMilliseconds)))
        XCTAssertEqual(rejection(event("e1", at: baseTime - configuration.lateWindowMilliseconds - 1)), .timestampTooOld)
        XCTAssertNil(rejection(event("e1", at: baseTime + configuration.futureSkewMilliseconds)))
        XCTAssertEqual(rejection(event("e1", at: baseTime + configuration.futureSkewMilliseconds + 1)), .timestampInFuture)
        XCTAssertEqual(rejection(event("e1", ["bad key": .integer(1)])), .invalidProperty)
        XCTAssertEqual(rejection(event("e1", ["note": .string(String(repeating: "n", count: limits.propertyValueMaximumBytes + 1))])), .invalidProperty)
        var duplicateKey = event("e1", ["a": .integer(1)])
        duplicateKey.properties.append(EventProperty(key: "a", value: .integer(2)))
        XCTAssertEqual(rejection(duplicateKey), .invalidProperty)
        let many = Dictionary(uniqueKeysWithValues: (0...limits.propertiesMaximumCount).map { ("p\($0)", PropertyValue.integer(1)) })
        XCTAssertEqual(rejection(event("e1", many)), .tooManyProperties)
        var sourced = event("e1")
        sourced.source = ""
        XCTAssertEqual(rejection(sourced), .invalidSource)
        sourced.source = "billing-api"
        XCTAssertNil(rejection(sourced))
    }

    func testDuplicatesInsideOneBatchAndAcrossBatches() throws {
        let harness = Harness()
        try harness.create(MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .count))
        let first = harness.ingest([event("a"), event("b"), event("a")])
        XCTAssertEqual(first.screening, [.accept, .accept, .duplicate])
        XCTAssertEqual(first.outcomes, [.counted, .counted])
        let second = harness.ingest([event("b"), event("c")], now: baseTime + minute)
        XCTAssertEqual(second.screening, [.duplicate, .accept])
        XCTAssertEqual(try harness.total("tokens_used"), decimal("3"))
    }

    func testPendingIdsOfTheSameGroupCommitAreDuplicates() {
        let machine = MeterStateMachine()
        var pending = Set<String>()
        XCTAssertEqual(machine.screen([event("x")], tenantId: Tenant.defaultId, nowMilliseconds: baseTime, pendingEventIds: &pending), [.accept])
        XCTAssertEqual(machine.screen([event("x")], tenantId: Tenant.defaultId, nowMilliseconds: baseTime, pendingEventIds: &pending), [.duplicate])
    }

    func testAnIdIsRememberedOnlyThroughTheAcceptingRecord() {
        // Screening alone (a write that then failed) must not make a retry a duplicate.
        let harness = Harness()
        var pending = Set<String>()
        _ = harness.machine.screen([event("x")], tenantId: Tenant.defaultId, nowMilliseconds: baseTime, pendingEventIds: &pending)
        XCTAssertEqual(harness.ingest([event("x")]).screening, [.accept])
    }

    func testDuplicateWindowExpiresAndTheLateWindowThenRejects() throws {
        var configuration = MeterCoreConfiguration()
        configuration.lateWindowMilliseconds = hour
        configuration.futureSkewMilliseconds = minute
        configuration.dedupWindowMilliseconds = 2 * hour
        configuration.minuteRetentionMilliseconds = 3 * hour
        let harness = Harness(configuration: configuration)
        harness.ingest([event("x", at: baseTime)])
        // Inside the dedup window the id is a duplicate, whatever its timestamp.
        let inside = baseTime + 2 * hour
        XCTAssertEqual(harness.ingest([event("x", at: inside)], now: inside).screening, [.duplicate])
        // The original event itself is by then too old to be accepted at all...
        guard case .rejected(let error) = harness.ingest([event("x", at: baseTime)], now: inside + 1).screening.first else {
            return XCTFail("a stale copy must not be counted again")
        }
        XCTAssertEqual(error.code, .timestampTooOld)
        // ...so after the window the id is forgotten (memory stays bounded) without risk.
        harness.ingest([event("tick", at: inside + 1)], now: inside + 1)
        XCTAssertEqual(harness.ingest([event("x", at: inside + 1)], now: inside + 1).screening, [.accept])
    }

    func testTenantsDoNotShareIdsMetersOrUsage() throws {
        let harness = Harness()
        try harness.create(MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .count))
        var other = MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .sum("tokens"))
        other.tenantId = "globex"
        try harness.create(other)
        harness.ingest([event("same", ["tokens": .integer(5)])])
        XCTAssertEqual(harness.ingest([event("same", ["tokens": .integer(7)])], tenant: "globex").screening, [.accept])
        XCTAssertEqual(try harness.total("tokens_used"), decimal("1"))
        XCTAssertEqual(try harness.total("tokens_used", tenant: "globex"), decimal("7"))
        XCTAssertThrowsError(try harness.machine.usage(UsageQuery(tenantId: "initech", meter: .eventName("tokens_used"), fromMilliseconds: 0, toMilliseconds: minute)))
    }

    func testOutcomesForUnmatchedFilteredAndMissingValues() throws {
        let harness = Harness()
        let meter = try harness.create(MeterDefinition(
            eventName: "tokens_used", displayName: "Tokens",
            filters: [MeterFilter(key: "model", values: ["llama3.1", "llama3.2"])], aggregation: .sum("tokens")))
        let result = harness.ingest([
            event("1", ["model": .string("llama3.1"), "tokens": .integer(10)]),
            event("2", ["model": .string("alpaca2.0"), "tokens": .integer(10)]),
            event("3", ["tokens": .integer(10)]),
            event("4", ["model": .string("llama3.2")]),
            event("5", ["model": .string("llama3.2"), "tokens": .boolean(true)]),
            event("6", "orders_placed"),
            event("7", ["model": .string("llama3.2"), "tokens": .string("2.5")]),
            event("8", ["model": .string("llama3.2"), "tokens": .decimal(decimal("0.25"))]),
        ])
        XCTAssertEqual(result.outcomes, [.counted, .filteredOut, .filteredOut, .missingValue, .missingValue, .noActiveMeter, .counted, .counted])
        XCTAssertEqual(try harness.total("tokens_used"), decimal("12.75"))
        let counters = try harness.machine.meter(tenantId: Tenant.defaultId, .id(meter.id)).counters
        XCTAssertEqual(counters.counted, 3)
        XCTAssertEqual(counters.filteredOut, 2)
        XCTAssertEqual(counters.missingValue, 2)
        XCTAssertEqual(harness.machine.eventsWithoutMeter(tenantId: Tenant.defaultId), 1)
    }

    func testFiltersCompareCanonicalText() throws {
        let harness = Harness()
        try harness.create(MeterDefinition(eventName: "calls", displayName: "Calls",
                                           filters: [MeterFilter(key: "tier", values: ["1", "true"])], aggregation: .count))
        let outcomes = harness.ingest([
            event("a", "calls", ["tier": .integer(1)]),
            event("b", "calls", ["tier": .decimal(decimal("1.000"))]),
            event("c", "calls", ["tier": .string("1")]),
            event("d", "calls", ["tier": .boolean(true)]),
            event("e", "calls", ["tier": .integer(2)]),
        ]).outcomes
        XCTAssertEqual(outcomes, [.counted, .counted, .counted, .counted, .filteredOut])
    }

    func testArchivedMetersStopCountingAndStayQueryable() throws {
        let harness = Harness()
        let meter = try harness.create(MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .count))
        harness.ingest([event("1")])
        harness.apply(.meterArchived(tenantId: Tenant.defaultId, meterId: meter.id, atMilliseconds: baseTime))
        XCTAssertEqual(harness.ingest([event("2")]).outcomes, [.noActiveMeter])
        let usage = try harness.machine.usage(UsageQuery(meter: .id(meter.id), fromMilliseconds: baseTime - hour, toMilliseconds: baseTime + hour))
        XCTAssertEqual(usage.rows.map(\.value), [decimal("1")])
        XCTAssertEqual(usage.meter.status, .archived)
    }

    func testAMeterCreatedBeforeAnyEventHasNothingToBackfill() throws {
        let harness = Harness()
        let first = try harness.create(MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .count))
        XCTAssertTrue(first.backfill.isComplete)
        harness.ingest([event("1")])
        let second = try harness.create(MeterDefinition(eventName: "orders", displayName: "Orders", aggregation: .count))
        XCTAssertFalse(second.backfill.isComplete)
        XCTAssertEqual(harness.machine.pendingBackfills.map(\.meterId), [second.id])
    }

    func testBackfillCountsEventsAcceptedBeforeTheMeterOnce() throws {
        let harness = Harness()
        harness.ingest([event("1", ["tokens": .integer(4)]), event("2", "other"), event("3", ["tokens": .integer(6)])])
        let firstRecord = harness.sequence
        let meter = try harness.create(MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .sum("tokens")))
        harness.ingest([event("4", ["tokens": .integer(1)])], now: baseTime + minute)
        XCTAssertEqual(harness.machine.pendingBackfills.map(\.meterId), [meter.id])
        let counted = harness.machine.applyBackfill(meterId: meter.id, record: harness.records[0], sequence: firstRecord)
        XCTAssertEqual(counted, 2)
        // Records at or after the creating record are never backfilled (they were counted live),
        // and other tenants' events never count.
        let late = harness.machine.applyBackfill(meterId: meter.id, record: harness.records.last!, sequence: harness.sequence)
        XCTAssertEqual(late, 0)
        let foreign = StateRecord.eventsAccepted(tenantId: "globex", acceptedAtMilliseconds: baseTime, events: [event("9", ["tokens": .integer(100)])])
        XCTAssertEqual(harness.machine.applyBackfill(meterId: meter.id, record: foreign, sequence: firstRecord), 0)
        XCTAssertEqual(try harness.total("tokens_used"), decimal("11"))
        harness.apply(.backfillProgress(meterId: meter.id, completedThroughSequence: meter.createdSequence))
        let status = try harness.machine.meter(tenantId: Tenant.defaultId, .id(meter.id)).backfill
        XCTAssertTrue(status.isComplete)
        XCTAssertTrue(harness.machine.pendingBackfills.isEmpty)
        XCTAssertEqual(status.eventsCounted, 2)
    }
}
