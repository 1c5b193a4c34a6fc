import Foundation
import MeterCore
@testable import MeterEngine
import XCTest

/// Entitlement changes through the engine's log (durable, replayed on open) and the
/// notification long poll woken by the writer.
final class EntitlementEngineTests: XCTestCase {
    private static let dailyTokens = MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .sum("tokens"),
                                                     reset: .periodic(period: .daily, anchorMilliseconds: engineStart))

    func testChangesAreDurableAndTheLongPollIsWokenByTheCrossingIngest() async throws {
        let directory = DataDirectory(self)
        let clock = ManualClock(engineStart)
        var engine = try MeterEngine.open(options: options(directory, clock: clock))
        let meter = try await engine.createMeter(Self.dailyTokens)
        let entitlement = try await engine.change(.setEntitlement(tenantId: Tenant.defaultId, meter: .eventName("tokens_used"), customerId: nil,
                                                                  limit: ExactDecimal(10), enforcement: .hard, actor: .bootstrap)).entitlement
        XCTAssertEqual(entitlement?.definition.meterId, meter.id)
        let rule = try await engine.change(.addThresholdRule(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: nil,
                                                             level: .percentOfEntitlement(ExactDecimal(80)), actor: .bootstrap)).thresholdRule
        XCTAssertEqual(rule?.id, "thr_1")
        let refused = await outcome { () async throws(EngineError) in
            try await engine.change(.addGrant(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: "acme", amount: .zero,
                                              effectiveFromMilliseconds: nil, expiresAtMilliseconds: nil, actor: .bootstrap))
        }
        guard case .failure(.rejected(let error)) = refused else { return XCTFail("a zero grant was accepted: \(refused)") }
        XCTAssertEqual(error.code, .invalidGrant)

        let started = ContinuousClock.now
        let poll = Task { [engine] in try await engine.notifications(tenantId: Tenant.defaultId, afterNumber: 0, limit: 10, waitMilliseconds: 20_000) }
        _ = try await engine.ingest(events: [usageEvent("e1", tokens: 8)])
        let woken = try await poll.value
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(15))
        XCTAssertEqual(woken.notifications.map(\.number), [1])
        let check = try await engine.checkEntitlement(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: "acme")
        XCTAssertEqual(check.remaining, ExactDecimal(2))

        // A poll with nothing new returns empty at its deadline.
        let empty = try await engine.notifications(tenantId: Tenant.defaultId, afterNumber: 1, limit: 10, waitMilliseconds: 50)
        XCTAssertTrue(empty.notifications.isEmpty)
        XCTAssertEqual(empty.lastNumber, 1)

        await engine.shutdown()
        engine = try MeterEngine.open(options: options(directory, clock: clock))
        let reopened = try await engine.notifications(tenantId: Tenant.defaultId, afterNumber: 0, limit: 10)
        XCTAssertEqual(reopened.notifications.map(\.ruleId), ["thr_1"])
        let next = try await engine.checkEntitlement(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: "acme",
                                                     atMilliseconds: engineStart + 86_400_000)
        XCTAssertTrue(next.hasAccess)
        XCTAssertEqual(next.usage, .zero)
        await engine.shutdown()
    }
}
