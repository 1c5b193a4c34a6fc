import Foundation
import MeterCore
import MeterTestSupport

/// The state machine alone (no engine, log or sockets): the cost of applying records of 1,000
/// events (10,000 customers, a CUMULATIVE SUM meter with a tenant-wide entitlement) without a
/// threshold rule, with an 80% rule evaluated by folding each touched customer's buckets (as
/// before running totals), and with the rule read from running totals; then CheckEntitlement
/// for random customers both ways. Same process, same records, so the ratios hold on a busy
/// machine better than the end-to-end `entitlement` suite.
enum ThresholdApplyBenchmark {
    static func run(records recordCount: Int) {
        let customers = 10_000
        let batch = 1000
        var random = SplitMix64(seed: 42)
        let start: Int64 = 1_767_225_600_000
        let records: [StateRecord] = (0..<recordCount).map { record in
            let events = (0..<batch).map { index in
                UsageEvent(eventId: "r\(record)-\(index)", eventName: "tokens_used", customerId: "customer-\(random.next() % UInt64(customers))",
                           timestampMilliseconds: start + Int64(record * batch + index),
                           properties: [EventProperty(key: "tokens", value: .integer(Int64(random.next() % 4000)))])
            }
            return .eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: start + Int64((record + 1) * batch), events: events)
        }
        print("== thresholds: MeterStateMachine.apply of \(recordCount) records x \(batch) events, \(customers) customers, CUMULATIVE SUM meter with an entitlement")
        for (name, rule, running) in [("no rule", false, true), ("80% rule, fold per customer", true, false), ("80% rule, running totals", true, true)] {
            let machine = MeterStateMachine()
            machine.usesRunningTotals = running
            var sequence: UInt64 = 0
            func apply(_ record: StateRecord) {
                sequence += 1
                machine.apply(record, sequence: sequence)
            }
            apply(.meterCreated(MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .sum("tokens")), atMilliseconds: start))
            apply(.entitlementSet(EntitlementDefinition(meterId: "mtr_1", customerId: nil, limit: ExactDecimal(1_000_000_000), enforcement: .hard),
                                  actor: .bootstrap, atMilliseconds: start))
            if rule {
                apply(.thresholdRuleAdded(ThresholdRuleDefinition(meterId: "mtr_1", customerId: nil, level: .percentOfEntitlement(ExactDecimal(80))),
                                          actor: .bootstrap, atMilliseconds: start))
            }
            let began = ContinuousClock.now
            for record in records { apply(record) }
            let applied = ContinuousClock.now - began
            let checkCount = 10_000
            let checksBegan = ContinuousClock.now
            var checkRandom = SplitMix64(seed: 7)
            for _ in 0..<checkCount {
                _ = try? machine.checkEntitlement(tenantId: Tenant.defaultId, meter: .id("mtr_1"), customerId: "customer-\(checkRandom.next() % UInt64(customers))",
                                                  atMilliseconds: start + Int64(recordCount * batch))
            }
            let checked = ContinuousClock.now - checksBegan
            let events = Double(recordCount * batch)
            print(String(format: "%@: apply %.0f ns/event (%.0f events/s); CheckEntitlement %.1f us/check", name,
                         nanoseconds(applied) / events, events / (nanoseconds(applied) / 1e9), nanoseconds(checked) / Double(checkCount) / 1000))
        }
    }

    private static func nanoseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
    }
}
