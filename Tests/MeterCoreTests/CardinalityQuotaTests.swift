import MeterCore
import XCTest

/// Customers-per-meter and series-per-meter quotas, decided at screening: an event over a
/// quota is rejected alone (its id not taken), the rest of its batch goes on, and what is
/// accepted but not applied yet (the ledger) counts too.
final class CardinalityQuotaTests: XCTestCase {
    private static let calls = MeterDefinition(eventName: "calls", displayName: "Calls", aggregation: .count)
    private static let byModel = MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .count, groupBy: ["model"])

    private static func configuration(_ quota: CardinalityQuota, overrides: [String: CardinalityQuota] = [:]) -> MeterCoreConfiguration {
        var configuration = MeterCoreConfiguration()
        configuration.quotas = CardinalityQuotas(defaultQuota: quota, overrides: overrides)
        return configuration
    }

    /// Screens with a ledger and applies what was accepted, as the engine does for one group.
    private func ingest(_ harness: Harness, _ events: [UsageEvent], tenant: String = Tenant.defaultId) -> [EventScreening] {
        var pending = Set<String>()
        var ledger = SeriesLedger()
        let screening = harness.machine.screen(events, tenantId: tenant, nowMilliseconds: baseTime, pendingEventIds: &pending, ledger: &ledger)
        let accepted = zip(events, screening).filter { $0.1 == .accept }.map(\.0)
        XCTAssertEqual(pending, Set(accepted.map(\.eventId)), "a refused event's id is not taken")
        if !accepted.isEmpty { harness.apply(.eventsAccepted(tenantId: tenant, acceptedAtMilliseconds: baseTime, events: accepted)) }
        return screening
    }

    private func codes(_ screening: [EventScreening]) -> [String] {
        screening.map { screened in
            switch screened {
            case .accept: return "accept"
            case .duplicate: return "duplicate"
            case .rejected(let error): return error.code.name
            }
        }
    }

    func testCustomersPerMeterRefusesOnlyEventsOfNewCustomers() throws {
        let harness = Harness(configuration: Self.configuration(CardinalityQuota(customersPerMeter: 2)))
        try harness.create(Self.calls)
        let first = ingest(harness, [event("e1", "calls", customer: "c1"), event("e2", "calls", customer: "c2"),
                                     event("e3", "calls", customer: "c3"), event("e4", "calls", customer: "c1"),
                                     event("e5", "no_meter", customer: "c9")])
        XCTAssertEqual(codes(first), ["accept", "accept", "QUOTA_CUSTOMERS_PER_METER", "accept", "accept"])
        guard case .rejected(let error) = first[2] else { return XCTFail() }
        XCTAssertTrue(error.message.contains("quota of 2 distinct customers"), error.message)
        XCTAssertTrue(error.message.contains("\"calls\""), error.message)
        // Nothing else of the batch was lost; a known customer still counts later; the refused
        // event is refused again (not a duplicate: its id was never taken).
        XCTAssertEqual(try harness.total("calls", customer: "c1"), decimal("2"))
        XCTAssertEqual(codes(ingest(harness, [event("e6", "calls", customer: "c2"), event("e3", "calls", customer: "c3")])),
                       ["accept", "QUOTA_CUSTOMERS_PER_METER"])
    }

    func testACopyOfARefusedEventInTheSameBatchIsRefusedToo() throws {
        let harness = Harness(configuration: Self.configuration(CardinalityQuota(customersPerMeter: 1)))
        try harness.create(Self.calls)
        let screening = ingest(harness, [event("e1", "calls", customer: "c1"), event("e2", "calls", customer: "c2"),
                                         event("e2", "calls", customer: "c2"), event("e1", "calls", customer: "c1")])
        // The second e2 is not a duplicate: no e2 was ever accepted.
        XCTAssertEqual(codes(screening), ["accept", "QUOTA_CUSTOMERS_PER_METER", "QUOTA_CUSTOMERS_PER_METER", "duplicate"])
    }

    func testSeriesPerMeterCountsEachCustomerAndGroupByValues() throws {
        let harness = Harness(configuration: Self.configuration(CardinalityQuota(seriesPerMeter: 3)))
        try harness.create(Self.byModel)
        let model = { (name: String) in ["model": PropertyValue.string(name)] }
        let screening = ingest(harness, [event("e1", customer: "c1", model("a")), event("e2", customer: "c1", model("b")),
                                         event("e3", customer: "c2", model("a")), event("e4", customer: "c2", model("b")),
                                         event("e5", customer: "c1", model("b")), event("e6", customer: "c1")])
        // c2/b is a fourth series; c1/b exists; c1 without a model is a new series too.
        XCTAssertEqual(codes(screening), ["accept", "accept", "accept", "QUOTA_SERIES_PER_METER", "accept", "QUOTA_SERIES_PER_METER"])
        guard case .rejected(let error) = screening[3] else { return XCTFail() }
        XCTAssertTrue(error.message.contains("quota of 3 series"), error.message)
    }

    func testEventsThatWouldNotCountAreNotRefused() throws {
        let harness = Harness(configuration: Self.configuration(CardinalityQuota(customersPerMeter: 1)))
        let filtered = MeterDefinition(eventName: "calls", displayName: "Calls", filters: [MeterFilter(key: "region", values: ["eu"])], aggregation: .sum("units"))
        try harness.create(filtered)
        let screening = ingest(harness, [event("e1", "calls", customer: "c1", ["region": .string("eu"), "units": .integer(1)]),
                                         event("e2", "calls", customer: "c2", ["region": .string("us"), "units": .integer(1)]),
                                         event("e3", "calls", customer: "c3", ["region": .string("eu")]),
                                         event("e4", "calls", customer: "c4", ["region": .string("eu"), "units": .integer(1)])])
        // Filtered out and missing value make no series: accepted (and counted as such).
        XCTAssertEqual(codes(screening), ["accept", "accept", "accept", "QUOTA_CUSTOMERS_PER_METER"])
    }

    func testPendingSeriesOfTheGroupAndOfTheGroupBeingSyncedCount() throws {
        let harness = Harness(configuration: Self.configuration(CardinalityQuota(customersPerMeter: 3)))
        try harness.create(Self.calls)
        var pending = Set<String>()
        var ledger = SeriesLedger()
        let group = harness.machine.screen([event("e1", "calls", customer: "c1"), event("e2", "calls", customer: "c2")],
                                           tenantId: Tenant.defaultId, nowMilliseconds: baseTime, pendingEventIds: &pending, ledger: &ledger)
        XCTAssertEqual(codes(group), ["accept", "accept"])
        // The next group is screened while this one is unapplied: its two customers count.
        var next = ledger.next()
        let following = harness.machine.screen([event("e3", "calls", customer: "c3"), event("e4", "calls", customer: "c4"), event("e5", "calls", customer: "c1")],
                                               tenantId: Tenant.defaultId, nowMilliseconds: baseTime, pendingEventIds: &pending, ledger: &next)
        XCTAssertEqual(codes(following), ["accept", "QUOTA_CUSTOMERS_PER_METER", "accept"])
        XCTAssertTrue(SeriesLedger().next().isEmpty)
    }

    func testTenantOverridesAndOtherTenantsAreSeparate() throws {
        let harness = Harness(configuration: Self.configuration(CardinalityQuota(customersPerMeter: 1), overrides: ["globex": CardinalityQuota()]))
        try harness.create(MeterDefinition(tenantId: "acme", eventName: "calls", displayName: "Calls", aggregation: .count))
        try harness.create(MeterDefinition(tenantId: "globex", eventName: "calls", displayName: "Calls", aggregation: .count))
        XCTAssertEqual(codes(ingest(harness, [event("a1", "calls", customer: "c1"), event("a2", "calls", customer: "c2")], tenant: "acme")),
                       ["accept", "QUOTA_CUSTOMERS_PER_METER"])
        XCTAssertEqual(codes(ingest(harness, (0..<5).map { event("g\($0)", "calls", customer: "c\($0)") }, tenant: "globex")),
                       Array(repeating: "accept", count: 5))
    }

    func testCustomersOfAMeterAreRebuiltFromASnapshot() throws {
        let configuration = Self.configuration(CardinalityQuota(customersPerMeter: 2))
        let harness = Harness(configuration: configuration)
        try harness.create(Self.calls)
        XCTAssertEqual(codes(ingest(harness, [event("e1", "calls", customer: "c1"), event("e2", "calls", customer: "c2")])), ["accept", "accept"])
        let restored = try MeterStateMachine(snapshot: harness.machine.snapshot(), configuration: configuration)
        var pending = Set<String>()
        var ledger = SeriesLedger()
        let screening = restored.screen([event("e3", "calls", customer: "c3"), event("e4", "calls", customer: "c2")],
                                        tenantId: Tenant.defaultId, nowMilliseconds: baseTime, pendingEventIds: &pending, ledger: &ledger)
        XCTAssertEqual(codes(screening), ["QUOTA_CUSTOMERS_PER_METER", "accept"])
    }

    func testNegativeQuotasAreAConfigurationProblem() {
        var configuration = MeterCoreConfiguration()
        configuration.quotas.overrides["acme"] = CardinalityQuota(seriesPerMeter: -1)
        XCTAssertEqual(configuration.problems, ["customer and series quotas must be 0 (unlimited) or more"])
    }
}
