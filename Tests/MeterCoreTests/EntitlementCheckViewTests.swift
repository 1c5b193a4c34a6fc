@testable import MeterCore
import XCTest

/// `EntitlementCheckView` on its own: bounded by `maximumEntries`, customers of a watched meter
/// published from their events, and a clear forgetting everything.
final class EntitlementCheckViewTests: XCTestCase {
    static let meter = MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .sum("tokens"),
                                       reset: .periodic(period: .daily, anchorMilliseconds: baseTime))

    private func tokens(_ id: String, _ amount: Int64, customer: String) -> UsageEvent {
        event(id, customer: customer, at: baseTime, ["tokens": .integer(amount)])
    }

    private func viewed(_ view: EntitlementCheckView, _ customer: String) -> ExactDecimal? {
        guard case .success(let check)? = view.check(tenantId: Tenant.defaultId, meter: .id("mtr_1"), customerId: customer, atMilliseconds: baseTime) else { return nil }
        return check.usage
    }

    func testAWatchedMeterPublishesCustomersWithEventsUpToTheBoundAndAClearForgetsThem() throws {
        let harness = Harness()
        try harness.create(Self.meter)
        harness.apply(.entitlementSet(EntitlementDefinition(meterId: "mtr_1", customerId: nil, limit: ExactDecimal(100), enforcement: .hard),
                                      actor: .bootstrap, atMilliseconds: baseTime))
        let view = EntitlementCheckView(maximumEntries: 2)
        harness.ingest([tokens("a1", 4, customer: "a")])
        _ = try harness.machine.checkEntitlement(tenantId: Tenant.defaultId, meter: .id("mtr_1"), customerId: "a", atMilliseconds: baseTime)
        harness.machine.publishCheck(into: view, tenantId: Tenant.defaultId, meter: .id("mtr_1"), customerId: "a")
        XCTAssertEqual(viewed(view, "a"), ExactDecimal(4))
        XCTAssertNil(viewed(view, "b"), "b has no events and was never checked")

        // b and c get events: the watched meter publishes b (never checked); c exceeds the bound.
        harness.ingest([tokens("b1", 2, customer: "b"), tokens("a2", 1, customer: "a")])
        harness.machine.publishCheckViewChanges(into: view)
        harness.ingest([tokens("c1", 7, customer: "c")])
        harness.machine.publishCheckViewChanges(into: view)
        XCTAssertEqual(viewed(view, "a"), ExactDecimal(5))
        XCTAssertEqual(viewed(view, "b"), ExactDecimal(2))
        XCTAssertNil(viewed(view, "c"), "the view holds at most 2 customers")
        XCTAssertEqual(view.count, 2)
        XCTAssertEqual(try harness.machine.checkEntitlement(tenantId: Tenant.defaultId, meter: .id("mtr_1"), customerId: "c", atMilliseconds: baseTime).usage,
                       ExactDecimal(7))

        harness.machine.resetCheckView(view)
        XCTAssertEqual(view.count, 0)
        XCTAssertNil(viewed(view, "a"))
        // No longer watched: events publish nothing until a check through the writer.
        harness.ingest([tokens("a3", 1, customer: "a")])
        harness.machine.publishCheckViewChanges(into: view)
        XCTAssertEqual(view.count, 0)
    }
}
