@testable import MeterCore
import XCTest

final class AggregationAndWindowTests: XCTestCase {
    private func meter(_ aggregation: Aggregation, reset: ResetPolicy = .cumulative, groupBy: [String] = []) -> MeterDefinition {
        MeterDefinition(eventName: "usage", displayName: "Usage", aggregation: aggregation, reset: reset, groupBy: groupBy)
    }

    private func values(_ harness: Harness, _ query: UsageQuery) throws -> [ExactDecimal?] {
        try harness.machine.usage(query).rows.map(\.value)
    }

    func testEveryAggregationKind() throws {
        let samples: [(String, Int64)] = [("3", 0), ("1.5", 1), ("7", 2), ("1.5", 3)]
        let expected: [AggregationKind: ExactDecimal?] = [
            .count: decimal("4"), .sum: decimal("13"), .average: decimal("3.25"), .minimum: decimal("1.5"),
            .maximum: decimal("7"), .countUnique: decimal("3"), .latest: decimal("1.5"),
        ]
        for kind in AggregationKind.allCases {
            let harness = Harness()
            try harness.create(meter(Aggregation(kind: kind, field: kind == .count ? nil : "value")))
            harness.ingest(samples.map { event("e\($0.1)", "usage", at: baseTime + $0.1 * minute, ["value": .decimal(decimal($0.0))]) }, now: baseTime + 10 * minute)
            XCTAssertEqual(try harness.total("usage", to: baseTime + hour), expected[kind]!, kind.rawValue)
        }
    }

    func testEmptyWindowsGiveZeroOrNothing() throws {
        for kind in AggregationKind.allCases {
            let harness = Harness()
            try harness.create(meter(Aggregation(kind: kind, field: kind == .count ? nil : "value")))
            let value = try harness.total("usage")
            switch kind {
            case .count, .sum, .countUnique: XCTAssertEqual(value, .zero, kind.rawValue)
            default: XCTAssertNil(value, kind.rawValue)
            }
        }
    }

    func testSumWithMultiplierIsAppliedOnceToTheExactSum() throws {
        let harness = Harness()
        try harness.create(meter(.sum("tokens", multiplier: decimal("0.000002"))))
        harness.ingest((0..<3).map { event("e\($0)", "usage", ["tokens": .integer(1)]) })
        XCTAssertEqual(try harness.total("usage"), decimal("0.000006"))
    }

    func testLatestBreaksTimestampTiesByLogOrder() throws {
        let harness = Harness()
        try harness.create(meter(Aggregation(kind: .latest, field: "gb")))
        harness.ingest([event("a", "usage", at: baseTime, ["gb": .integer(5)]), event("b", "usage", at: baseTime, ["gb": .integer(9)])])
        harness.ingest([event("c", "usage", at: baseTime, ["gb": .integer(2)]), event("d", "usage", at: baseTime - minute, ["gb": .integer(100)])], now: baseTime + minute)
        XCTAssertEqual(try harness.total("usage"), decimal("2"))
    }

    func testSumOverflowIsReportedForThatEventAndNeverWraps() throws {
        // Reaching Int128's limit takes ~1.7 billion maximal events; start a bucket near it instead.
        let harness = Harness()
        let created = try harness.create(meter(.sum("value")))
        let big = decimal("99999999999999999999.999999999")
        harness.ingest([event("seed", "usage", ["value": .integer(1)])])
        let state = harness.machine.metersById[created.id]!
        state.store.modifyAggregate(series: 0, tier: .minutes, at: 0) { $0.value = Int128.max - big.units - 5 }
        let outcomes = harness.ingest([
            event("fits", "usage", ["value": .decimal(big)]),
            event("overflows", "usage", ["value": .integer(1)]),
            event("negative", "usage", ["value": .integer(-1)]),
        ]).outcomes
        XCTAssertEqual(outcomes, [.counted, .overflow, .counted])
        XCTAssertEqual(state.store.pool.aggregate(state.store.run(0, .minutes), 0).value, Int128.max - 5 - 1_000_000_000)
        XCTAssertEqual(harness.machine.metersById[created.id]!.meter.counters.overflowed, 1)
        // A query adding this bucket to another customer's reports the overflow instead of wrapping.
        harness.ingest([event("other", "usage", customer: "zeta", ["value": .integer(7)])])
        XCTAssertThrowsError(try harness.total("usage")) { error in
            XCTAssertEqual((error as? MeterError)?.code, .valueOverflow)
        }
        XCTAssertNotNil(try harness.total("usage", customer: "zeta"))
    }

    func testPeriodicWindowsAndCurrentPeriodUsage() throws {
        let harness = Harness()
        // Monthly, anchored on 2025-12-31 00:00 UTC: periods end on Jan 31, Feb 28, Mar 31...
        let anchor = CivilTime.milliseconds(CivilDateTime(year: 2025, month: 12, day: 31, hour: 0, minute: 0, second: 0, millisecond: 0))
        try harness.create(meter(.sum("value"), reset: .periodic(period: .monthly, anchorMilliseconds: anchor)))
        let january30 = anchor + 30 * 24 * hour
        harness.ingest([event("a", "usage", at: january30 - 2 * hour, ["value": .integer(5)])], now: january30)
        let february1 = anchor + 32 * 24 * hour
        harness.ingest([event("b", "usage", at: february1, ["value": .integer(7)])], now: february1)
        let current = try harness.machine.currentUsage(tenantId: Tenant.defaultId, meter: .eventName("usage"), customerId: "acme", atMilliseconds: february1)
        XCTAssertEqual(current.value, decimal("7"))
        XCTAssertEqual(current.windowStartMilliseconds, anchor + 31 * 24 * hour)
        XCTAssertEqual(CivilTime.rfc3339(milliseconds: current.windowEndMilliseconds), "2026-02-28T00:00:00Z")
        let earlier = try harness.machine.currentUsage(tenantId: Tenant.defaultId, meter: .eventName("usage"), customerId: nil, atMilliseconds: january30)
        XCTAssertEqual(earlier.value, decimal("5"))
        XCTAssertEqual(earlier.windowStartMilliseconds, anchor)
    }

    func testCumulativeWindowsAreRunningTotals() throws {
        let harness = Harness()
        try harness.create(meter(.sum("value")))
        harness.ingest([
            event("a", "usage", at: baseTime - 3 * hour, ["value": .integer(1)]),
            event("b", "usage", at: baseTime - 90 * minute, ["value": .integer(2)]),
            event("c", "usage", at: baseTime - 1, ["value": .integer(4)]),
        ])
        let query = UsageQuery(meter: .eventName("usage"), fromMilliseconds: baseTime - 2 * hour, toMilliseconds: baseTime + hour, windowSize: .hour)
        XCTAssertEqual(try values(harness, query), [decimal("3"), decimal("7"), decimal("7")])
        let now = try harness.machine.currentUsage(tenantId: Tenant.defaultId, meter: .eventName("usage"), customerId: nil, atMilliseconds: baseTime - 90 * minute)
        XCTAssertEqual(now.value, decimal("3"))
    }

    func testWindowsAreCutAtTheRangeAndLateEventsLandInTheirOwnMinute() throws {
        let harness = Harness()
        try harness.create(meter(.count, reset: .monthly))
        harness.ingest([event("late", "usage", at: baseTime - 20 * hour - minute)], now: baseTime)
        let query = UsageQuery(meter: .eventName("usage"), fromMilliseconds: baseTime - 21 * hour + 30 * minute, toMilliseconds: baseTime - 20 * hour, windowSize: .fifteenMinutes)
        let rows = try harness.machine.usage(query).rows
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows.map(\.value), [.zero, decimal("1")])
        XCTAssertEqual(rows[1].windowStartMilliseconds, baseTime - 20 * hour - 15 * minute)
        XCTAssertEqual(rows[1].windowEndMilliseconds, baseTime - 20 * hour)
    }

    func testGroupByCustomerAndByPropertyWithFilters() throws {
        let harness = Harness()
        try harness.create(meter(.sum("tokens"), reset: .monthly, groupBy: ["model", "region"]))
        harness.ingest([
            event("1", "usage", customer: "acme", ["tokens": .integer(1), "model": .string("m1"), "region": .string("eu")]),
            event("2", "usage", customer: "acme", ["tokens": .integer(2), "model": .string("m2"), "region": .string("eu")]),
            event("3", "usage", customer: "zeta", ["tokens": .integer(4), "model": .string("m1"), "region": .string("us")]),
            event("4", "usage", customer: "zeta", ["tokens": .integer(8)]),
        ])
        let range = (from: baseTime - hour, to: baseTime + hour)
        let byModel = try harness.machine.usage(UsageQuery(meter: .eventName("usage"), fromMilliseconds: range.from, toMilliseconds: range.to, groupBy: ["model"])).rows
        XCTAssertEqual(byModel.map { $0.group.first?.value }, [nil, "m1", "m2"])
        XCTAssertEqual(byModel.map(\.value), [decimal("8"), decimal("5"), decimal("2")])
        let byCustomer = try harness.machine.usage(UsageQuery(meter: .eventName("usage"), fromMilliseconds: range.from, toMilliseconds: range.to, groupByCustomer: true,
                                                              groupFilters: [MeterFilter(key: "region", values: ["eu", "us"])])).rows
        XCTAssertEqual(byCustomer.map(\.customerId), ["acme", "zeta"])
        XCTAssertEqual(byCustomer.map(\.value), [decimal("3"), decimal("4")])
        let oneCustomer = try harness.machine.usage(UsageQuery(meter: .eventName("usage"), fromMilliseconds: range.from, toMilliseconds: range.to, customerId: "zeta"))
        XCTAssertEqual(oneCustomer.rows.map(\.value), [decimal("12")])
        let unknown = try harness.machine.usage(UsageQuery(meter: .eventName("usage"), fromMilliseconds: range.from, toMilliseconds: range.to, customerId: "nobody"))
        XCTAssertEqual(unknown.rows.map(\.value), [.zero])
        XCTAssertEqual(unknown.rows.map(\.customerId), ["nobody"])
        XCTAssertThrowsError(try harness.machine.usage(UsageQuery(meter: .eventName("usage"), fromMilliseconds: range.from, toMilliseconds: range.to, groupBy: ["tokens"])))
    }

    func testQueryValidation() throws {
        let harness = Harness()
        try harness.create(meter(.count))
        let bad: [UsageQuery] = [
            UsageQuery(meter: .eventName("usage"), fromMilliseconds: baseTime, toMilliseconds: baseTime),
            UsageQuery(meter: .eventName("usage"), fromMilliseconds: baseTime + 1, toMilliseconds: baseTime + minute),
            UsageQuery(meter: .eventName("usage"), fromMilliseconds: 0, toMilliseconds: baseTime, windowSize: .minute),
            UsageQuery(meter: .eventName("usage"), fromMilliseconds: baseTime, toMilliseconds: baseTime + minute, groupFilters: [MeterFilter(key: "x", values: ["y"])]),
        ]
        for query in bad {
            XCTAssertThrowsError(try harness.machine.usage(query)) { error in
                XCTAssertEqual((error as? MeterError)?.code, .invalidQuery)
            }
        }
        XCTAssertThrowsError(try harness.machine.usage(UsageQuery(meter: .eventName("nothing"), fromMilliseconds: 0, toMilliseconds: minute))) { error in
            XCTAssertEqual((error as? MeterError)?.code, .meterNotFound)
        }
    }

    func testOldMinutesRollIntoHoursWithoutChangingHourlyAnswers() throws {
        let configuration = MeterCoreConfiguration()
        let harness = Harness(configuration: configuration)
        try harness.create(meter(Aggregation(kind: .countUnique, field: "user")))
        harness.ingest((0..<120).map { event("e\($0)", "usage", at: baseTime + Int64($0) * minute, ["user": .string("u\($0 % 7)")]) }, now: baseTime + 2 * hour)
        let hourly = UsageQuery(meter: .eventName("usage"), fromMilliseconds: baseTime, toMilliseconds: baseTime + 2 * hour, windowSize: .hour)
        let before = try values(harness, hourly)
        // Move time past the minute retention: the first hours roll up.
        let later = baseTime + configuration.minuteRetentionMilliseconds + 3 * hour
        harness.ingest([event("tick", "usage", at: later, ["user": .string("u0")])], now: later)
        XCTAssertEqual(try values(harness, hourly), before)
        let minutely = UsageQuery(meter: .eventName("usage"), fromMilliseconds: baseTime, toMilliseconds: baseTime + 2 * hour, windowSize: .minute)
        XCTAssertThrowsError(try harness.machine.usage(minutely)) { error in
            XCTAssertEqual((error as? MeterError)?.code, .resolutionUnavailable)
        }
    }

    func testOneMillionTimesPointOneIsExactlyOneHundredThousand() throws {
        let harness = Harness()
        try harness.create(meter(.sum("value")))
        let tenth = PropertyValue.decimal(decimal("0.1"))
        var id = 0
        for batch in 0..<100 {
            let events = (0..<10_000).map { _ -> UsageEvent in
                id += 1
                return event("e\(id)", "usage", customer: "c\(id % 10)", at: baseTime + Int64(batch % 60) * minute, ["value": tenth])
            }
            harness.ingest(events, now: baseTime + hour)
        }
        XCTAssertEqual(try harness.total("usage", to: baseTime + 2 * hour), decimal("100000"))
    }
}
