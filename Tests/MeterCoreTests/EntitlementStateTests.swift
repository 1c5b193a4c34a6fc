@testable import MeterCore
import XCTest

/// Entitlements, grants and threshold rules in the state machine: checks answered from the
/// aggregates, crossings raised exactly once per period, record codec round trips, and
/// replay/snapshot determinism.
final class EntitlementStateTests: XCTestCase {
    static let day: Int64 = 86_400_000
    /// A SUM of "tokens" reset daily at `baseTime`.
    static let meter = MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .sum("tokens"),
                                       reset: .periodic(period: .daily, anchorMilliseconds: baseTime))

    private func tokens(_ id: String, _ amount: Int64, customer: String = "acme", at timestamp: Int64 = baseTime) -> UsageEvent {
        event(id, customer: customer, at: timestamp, ["tokens": .integer(amount)])
    }

    private func setUpMeter() throws -> Harness {
        let harness = Harness()
        try harness.create(Self.meter)
        return harness
    }

    private func set(_ harness: Harness, customer: String?, limit: String, _ enforcement: EntitlementEnforcement = .hard) {
        let outcome = harness.apply(.entitlementSet(EntitlementDefinition(meterId: "mtr_1", customerId: customer, limit: decimal(limit), enforcement: enforcement),
                                                    actor: .bootstrap, atMilliseconds: baseTime))
        guard case .entitlementChanged = outcome else { return XCTFail("entitlement not set: \(outcome)") }
    }

    private func check(_ harness: Harness, _ customer: String = "acme", at instant: Int64) throws -> EntitlementCheck {
        try harness.machine.checkEntitlement(tenantId: Tenant.defaultId, meter: .id("mtr_1"), customerId: customer, atMilliseconds: instant)
    }

    func testHardLimitDeniesAfterTheCrossingEventAndAllowsAgainNextPeriod() throws {
        let harness = try setUpMeter()
        set(harness, customer: "acme", limit: "10")
        harness.ingest([tokens("e1", 6)], now: baseTime + minute)
        var answer = try check(harness, at: baseTime + 2 * minute)
        XCTAssertTrue(answer.hasAccess)
        XCTAssertEqual(answer.usage, decimal("6"))
        XCTAssertEqual(answer.remaining, decimal("4"))
        XCTAssertEqual(answer.periodStartMilliseconds, baseTime)
        XCTAssertEqual(answer.periodEndMilliseconds, baseTime + Self.day)

        harness.ingest([tokens("e2", 4, at: baseTime + minute)], now: baseTime + 2 * minute)
        answer = try check(harness, at: baseTime + 3 * minute)
        XCTAssertFalse(answer.hasAccess, "usage reached the hard limit")
        XCTAssertEqual(answer.remaining, .zero)
        XCTAssertEqual(answer.limit, decimal("10"))

        answer = try check(harness, at: baseTime + Self.day + minute)
        XCTAssertTrue(answer.hasAccess, "a new billing period starts at zero")
        XCTAssertEqual(answer.usage, .zero)
        XCTAssertEqual(answer.periodStartMilliseconds, baseTime + Self.day)
    }

    func testDefaultAppliesToCustomersWithoutTheirOwnAndNoEntitlementIsAnError() throws {
        let harness = try setUpMeter()
        XCTAssertThrowsError(try check(harness, at: baseTime)) { error in
            XCTAssertEqual((error as? MeterError)?.code, .entitlementNotFound)
        }
        set(harness, customer: nil, limit: "5")
        set(harness, customer: "acme", limit: "100")
        harness.ingest([tokens("e1", 7, customer: "globex"), tokens("e2", 7)], now: baseTime + minute)
        let globex = try check(harness, "globex", at: baseTime + minute)
        XCTAssertTrue(globex.isDefault)
        XCTAssertFalse(globex.hasAccess)
        let acme = try check(harness, at: baseTime + minute)
        XCTAssertFalse(acme.isDefault)
        XCTAssertTrue(acme.hasAccess)
        XCTAssertEqual(acme.remaining, decimal("93"))
        XCTAssertEqual(harness.machine.entitlements(tenantId: Tenant.defaultId).map(\.definition.customerId), [nil, "acme"])

        harness.apply(.entitlementRemoved(tenantId: Tenant.defaultId, meterId: "mtr_1", customerId: "acme", actor: .bootstrap, atMilliseconds: baseTime))
        XCTAssertTrue(try check(harness, at: baseTime + minute).isDefault, "after removal the default applies")
        guard case .refused(let error) = harness.apply(.entitlementRemoved(tenantId: Tenant.defaultId, meterId: "mtr_1", customerId: "acme", actor: .bootstrap, atMilliseconds: baseTime)) else {
            return XCTFail("a second removal applied")
        }
        XCTAssertEqual(error.code, .entitlementNotFound)
    }

    func testSoftLimitKeepsAccessAndReportsOverage() throws {
        let harness = try setUpMeter()
        set(harness, customer: "acme", limit: "2.5", .soft)
        harness.ingest([tokens("e1", 4)], now: baseTime + minute)
        let answer = try check(harness, at: baseTime + minute)
        XCTAssertTrue(answer.hasAccess)
        XCTAssertEqual(answer.overage, decimal("1.5"))
        XCTAssertEqual(answer.remaining, .zero)
    }

    func testGrantsRaiseTheLimitFromTheirStartUntilTheyExpire() throws {
        let harness = try setUpMeter()
        set(harness, customer: "acme", limit: "10")
        harness.ingest([tokens("e1", 12)], now: baseTime + minute)
        XCTAssertFalse(try check(harness, at: baseTime + minute).hasAccess)
        let grant = GrantDefinition(meterId: "mtr_1", customerId: "acme", amount: decimal("5"),
                                    effectiveFromMilliseconds: baseTime + 10 * minute, expiresAtMilliseconds: baseTime + 20 * minute)
        guard case .entitlementChanged(.grantAdded(let added)) = harness.apply(.grantAdded(grant, actor: .bootstrap, atMilliseconds: baseTime)) else {
            return XCTFail("grant not added")
        }
        XCTAssertEqual(added.id, "grt_1")
        XCTAssertFalse(try check(harness, at: baseTime + 9 * minute).hasAccess, "not effective yet")
        let during = try check(harness, at: baseTime + 10 * minute)
        XCTAssertTrue(during.hasAccess)
        XCTAssertEqual(during.limit, decimal("15"))
        XCTAssertEqual(during.granted, decimal("5"))
        XCTAssertEqual(during.remaining, decimal("3"))
        XCTAssertFalse(try check(harness, at: baseTime + 20 * minute).hasAccess, "expired")

        var bad = grant
        bad.expiresAtMilliseconds = bad.effectiveFromMilliseconds
        XCTAssertThrowsError(try harness.machine.validateGrant(bad))
        bad = grant
        bad.amount = .zero
        XCTAssertThrowsError(try harness.machine.validateGrant(bad))
        harness.apply(.grantRemoved(tenantId: Tenant.defaultId, grantId: "grt_1", actor: .bootstrap, atMilliseconds: baseTime))
        XCTAssertFalse(try check(harness, at: baseTime + 10 * minute).hasAccess, "removed")
    }

    func testThresholdIsRaisedOncePerPeriodAndReArmedByTheNextPeriod() throws {
        let harness = try setUpMeter()
        set(harness, customer: nil, limit: "10")
        harness.apply(.thresholdRuleAdded(ThresholdRuleDefinition(meterId: "mtr_1", customerId: nil, level: .absolute(decimal("5"))), actor: .bootstrap, atMilliseconds: baseTime))
        harness.apply(.thresholdRuleAdded(ThresholdRuleDefinition(meterId: "mtr_1", customerId: "acme", level: .percentOfEntitlement(decimal("90"))), actor: .bootstrap, atMilliseconds: baseTime))
        harness.ingest([tokens("e1", 3)], now: baseTime + minute)
        XCTAssertEqual(harness.machine.lastNotificationNumber, 0)
        harness.ingest([tokens("e2", 3), tokens("g1", 5, customer: "globex")], now: baseTime + 2 * minute)
        var raised = harness.machine.notifications(tenantId: Tenant.defaultId, afterNumber: 0, limit: 100)
        XCTAssertEqual(raised.map(\.ruleId), ["thr_1", "thr_1"])
        XCTAssertEqual(raised.map(\.customerId), ["acme", "globex"])
        XCTAssertEqual(raised[0].usage, decimal("6"))
        XCTAssertEqual(raised[0].threshold, decimal("5"))
        harness.ingest([tokens("e3", 3)], now: baseTime + 3 * minute)
        raised = harness.machine.notifications(tenantId: Tenant.defaultId, afterNumber: 2, limit: 100)
        XCTAssertEqual(raised.map(\.ruleId), ["thr_2"], "9 of 10 is 90%; the 5 rule is not raised again")
        XCTAssertEqual(raised[0].threshold, decimal("9"))
        harness.ingest([tokens("e4", 1)], now: baseTime + 4 * minute)
        XCTAssertEqual(harness.machine.lastNotificationNumber, 3)

        harness.ingest([tokens("e5", 6, at: baseTime + Self.day)], now: baseTime + Self.day)
        raised = harness.machine.notifications(tenantId: Tenant.defaultId, afterNumber: 3, limit: 100)
        XCTAssertEqual(raised.map(\.number), [4])
        XCTAssertEqual(raised[0].periodStartMilliseconds, baseTime + Self.day)
        XCTAssertTrue(harness.machine.notifications(tenantId: "other", afterNumber: 0, limit: 100).isEmpty)
    }

    func testALateEventCrossesTheThresholdOfItsOwnPeriod() throws {
        let harness = try setUpMeter()
        harness.apply(.thresholdRuleAdded(ThresholdRuleDefinition(meterId: "mtr_1", customerId: nil, level: .absolute(decimal("10"))), actor: .bootstrap, atMilliseconds: baseTime))
        harness.ingest([tokens("e1", 8, at: baseTime + Self.day - minute)], now: baseTime + Self.day - minute)
        harness.ingest([tokens("e2", 8, at: baseTime + Self.day)], now: baseTime + Self.day)
        XCTAssertEqual(harness.machine.lastNotificationNumber, 0)
        // Arrives after the period ended, stamped inside it.
        harness.ingest([tokens("e3", 3, at: baseTime + Self.day - 2 * minute)], now: baseTime + Self.day + 5 * minute)
        let raised = harness.machine.notifications(tenantId: Tenant.defaultId, afterNumber: 0, limit: 10)
        XCTAssertEqual(raised.count, 1)
        XCTAssertEqual(raised.first?.periodStartMilliseconds, baseTime)
        XCTAssertEqual(raised.first?.usage, decimal("11"))
    }

    func testABackfilledMeterCrossesAThreshold() throws {
        let harness = Harness()
        let early = StateRecord.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: baseTime,
                                               events: [tokens("e1", 7), tokens("e2", 7)])
        harness.apply(early)
        let earlySequence = harness.sequence
        try harness.create(Self.meter)
        harness.apply(.thresholdRuleAdded(ThresholdRuleDefinition(meterId: "mtr_1", customerId: "acme", level: .absolute(decimal("12"))), actor: .bootstrap, atMilliseconds: baseTime))
        XCTAssertEqual(harness.machine.applyBackfill(meterId: "mtr_1", record: early, sequence: earlySequence), 2)
        let raised = harness.machine.notifications(tenantId: Tenant.defaultId, afterNumber: 0, limit: 10)
        XCTAssertEqual(raised.map(\.usage), [decimal("14")])
        XCTAssertEqual(raised.first?.sequence, earlySequence)
    }

    /// A history touching every entitlement record type, with crossings in two periods.
    private func history() -> [StateRecord] {
        let rule = ThresholdRuleDefinition(meterId: "mtr_1", customerId: nil, level: .percentOfEntitlement(decimal("50")))
        return [
            .meterCreated(Self.meter, atMilliseconds: baseTime),
            .entitlementSet(EntitlementDefinition(meterId: "mtr_1", customerId: nil, limit: decimal("10"), enforcement: .hard), actor: .apiKey(id: "key_1"), atMilliseconds: baseTime),
            .entitlementSet(EntitlementDefinition(meterId: "mtr_1", customerId: "acme", limit: decimal("20.5"), enforcement: .soft), actor: .localUser(uid: 1000), atMilliseconds: baseTime + 1),
            .grantAdded(GrantDefinition(meterId: "mtr_1", customerId: "acme", amount: decimal("4"), effectiveFromMilliseconds: baseTime, expiresAtMilliseconds: nil), actor: .bootstrap, atMilliseconds: baseTime + 2),
            .grantAdded(GrantDefinition(meterId: "mtr_1", customerId: "globex", amount: decimal("1"), effectiveFromMilliseconds: baseTime, expiresAtMilliseconds: baseTime + hour), actor: .bootstrap, atMilliseconds: baseTime + 3),
            .thresholdRuleAdded(rule, actor: .bootstrap, atMilliseconds: baseTime + 4),
            .thresholdRuleAdded(ThresholdRuleDefinition(meterId: "mtr_1", customerId: "globex", level: .absolute(decimal("1"))), actor: .bootstrap, atMilliseconds: baseTime + 5),
            .eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: baseTime + minute, events: [tokens("e1", 13), tokens("g1", 6, customer: "globex")]),
            .grantRemoved(tenantId: Tenant.defaultId, grantId: "grt_2", actor: .bootstrap, atMilliseconds: baseTime + 2 * minute),
            .thresholdRuleRemoved(tenantId: Tenant.defaultId, ruleId: "thr_2", actor: .bootstrap, atMilliseconds: baseTime + 2 * minute),
            .entitlementRemoved(tenantId: Tenant.defaultId, meterId: "mtr_1", customerId: nil, actor: .bootstrap, atMilliseconds: baseTime + 3 * minute),
            .eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: baseTime + Self.day, events: [tokens("e2", 13, at: baseTime + Self.day)]),
        ]
    }

    func testEveryRecordRoundTripsThroughTheCodec() throws {
        for record in history() {
            let encoded = RecordCodec.encode(record)
            XCTAssertEqual(try RecordCodec.decode(type: encoded.type, payload: encoded.payload), record)
        }
        XCTAssertThrowsError(try RecordCodec.decode(type: RecordCodec.entitlementSetType, payload: [1, 2, 3]))
    }

    func testReplayAndSnapshotsRebuildIdenticalStateAndNotifications() throws {
        let first = Harness()
        for record in history() { first.apply(record) }
        XCTAssertEqual(first.machine.notifications(tenantId: Tenant.defaultId, afterNumber: 0, limit: 10).map(\.ruleId), ["thr_1", "thr_1", "thr_2", "thr_1"])
        XCTAssertEqual(first.machine.auditEntries(AuditQuery(tenantId: Tenant.defaultId, limit: 100)).count, 9)

        let replayed = Harness()
        for record in history() { replayed.apply(record) }
        XCTAssertEqual(replayed.machine.snapshot(), first.machine.snapshot())

        // Snapshot half way, restore, apply the rest: the same bytes as applying everything.
        let records = history()
        let partial = Harness()
        for record in records.prefix(8) { partial.apply(record) }
        let restored = try MeterStateMachine(snapshot: partial.machine.snapshot())
        XCTAssertEqual(restored.snapshot(), partial.machine.snapshot())
        for (offset, record) in records.enumerated().dropFirst(8) { restored.apply(record, sequence: UInt64(offset + 1)) }
        XCTAssertEqual(restored.snapshot(), first.machine.snapshot())
        XCTAssertEqual(restored.lastNotificationNumber, 4)
    }

    func testASnapshotOfANewerFormatIsRefusedWithAClearMessage() throws {
        var bytes = Harness().machine.snapshot()
        bytes[0] = 5
        XCTAssertThrowsError(try MeterStateMachine(snapshot: bytes)) { error in
            XCTAssertTrue("\(error)".contains("unsupported snapshot format version 5"), "\(error)")
        }
    }

    /// Applies a batch asking for entitlement effects (one per event of the record).
    private func ingestWithEffects(_ harness: Harness, _ events: [UsageEvent], now: Int64) -> (outcomes: [EventOutcome], effects: [EntitlementEffect?]) {
        var effects: [EntitlementEffect?] = []
        harness.sequence += 1
        let record = StateRecord.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: now, events: events)
        harness.records.append(record)
        guard case .events(let outcomes) = harness.machine.apply(record, sequence: harness.sequence, entitlementEffects: &effects) else {
            XCTFail("events not applied")
            return ([], [])
        }
        return (outcomes, effects)
    }

    func testEntitlementEffectsReportTheCrossingEventAndNoAccessAfterIt() throws {
        let harness = try setUpMeter()
        set(harness, customer: "acme", limit: "10")
        let first = ingestWithEffects(harness, [tokens("e1", 4), tokens("e2", 4, customer: "globex"), tokens("e3", 6), tokens("e4", 1)],
                                      now: baseTime + minute)
        XCTAssertEqual(first.effects.count, 4)
        let below = try XCTUnwrap(first.effects[0])
        XCTAssertEqual(below, EntitlementEffect(hasAccess: true, usage: decimal("4"), limit: decimal("10"), remaining: decimal("6"), crossed: false))
        XCTAssertNil(first.effects[1], "globex has no entitlement")
        let crossing = try XCTUnwrap(first.effects[2])
        XCTAssertTrue(crossing.crossed)
        XCTAssertFalse(crossing.hasAccess, "the event reaching a hard limit is accepted and ends access")
        XCTAssertEqual(crossing.usage, decimal("10"))
        XCTAssertEqual(crossing.remaining, .zero)
        let after = try XCTUnwrap(first.effects[3])
        XCTAssertFalse(after.hasAccess)
        XCTAssertFalse(after.crossed, "only the event that reached the limit crossed it")
        XCTAssertEqual(after.usage, decimal("11"))

        // The next batch: still no access; a duplicate has no effect; a late event of the previous
        // period does not change this period's usage.
        let second = ingestWithEffects(harness, [tokens("e5", 1), tokens("e1", 4), tokens("e6", 3, at: baseTime - minute)], now: baseTime + 2 * minute)
        XCTAssertEqual(second.outcomes, [.counted, .duplicate, .counted])
        XCTAssertEqual(second.effects[0]?.hasAccess, false)
        XCTAssertEqual(second.effects[0]?.usage, decimal("12"))
        XCTAssertNil(second.effects[1])
        XCTAssertEqual(second.effects[2]?.usage, decimal("12"))
        XCTAssertEqual(second.effects[2]?.crossed, false)

        // The same records without effects give the same state.
        let replayed = MeterStateMachine()
        for (offset, record) in harness.records.enumerated() { replayed.apply(record, sequence: UInt64(offset + 1)) }
        XCTAssertEqual(replayed.snapshot(), harness.machine.snapshot())
        XCTAssertEqual(try check(harness, at: baseTime + 3 * minute).usage, decimal("12"))
    }
}
