@testable import MeterCore
import MeterTestSupport
import XCTest

/// The running totals (`RunningTotals`) against the fold they replace: two state machines apply
/// the same randomized records (every aggregation, group-by, periodic and cumulative meters,
/// late and future-skewed events, period boundaries, minute roll-up, a backfilled meter,
/// entitlements, grants and threshold rules added and removed while events exist, snapshots),
/// one answering from running totals and one folding every time. Every usage of every customer
/// and period asked, every check and every notification must be the same, errors included.
final class RunningTotalOracleTests: XCTestCase {
    static let configuration: MeterCoreConfiguration = {
        var configuration = MeterCoreConfiguration()
        configuration.lateWindowMilliseconds = 6 * hour
        configuration.futureSkewMilliseconds = 5 * minute
        configuration.minuteRetentionMilliseconds = 7 * hour
        return configuration
    }()
    static let daily = ResetPolicy.periodic(period: .daily, anchorMilliseconds: baseTime + 3 * hour)
    static let meters: [MeterDefinition] = [
        MeterDefinition(eventName: "m_sum", displayName: "sum", aggregation: .sum("v", multiplier: decimal("1.5")), reset: daily, groupBy: ["region"]),
        MeterDefinition(eventName: "m_count", displayName: "count", aggregation: .count, reset: .periodic(period: .weekly, anchorMilliseconds: baseTime)),
        MeterDefinition(eventName: "m_avg", displayName: "avg", aggregation: Aggregation(kind: .average, field: "v"), reset: daily),
        MeterDefinition(eventName: "m_min", displayName: "min", aggregation: Aggregation(kind: .minimum, field: "v"), reset: daily, groupBy: ["region"]),
        MeterDefinition(eventName: "m_max", displayName: "max", aggregation: Aggregation(kind: .maximum, field: "v"), reset: daily),
        MeterDefinition(eventName: "m_latest", displayName: "latest", aggregation: Aggregation(kind: .latest, field: "v"), reset: daily, groupBy: ["region"]),
        MeterDefinition(eventName: "m_unique", displayName: "unique", aggregation: Aggregation(kind: .countUnique, field: "user"), reset: daily, groupBy: ["region"]),
        MeterDefinition(eventName: "m_cum", displayName: "cumulative", aggregation: .sum("v"), reset: .cumulative),
    ]
    /// Created in the middle of the run and backfilled from the earlier records.
    static let backfilled = MeterDefinition(eventName: "m_back", displayName: "backfilled", aggregation: .sum("v"), reset: .monthly)
    static let customers = ["a", "b", "c", "d"]

    func testRunningTotalsAnswerLikeTheFoldOverRandomizedEvents() throws {
        for seed: UInt64 in [17, 4242] {
            try run(seed: seed, steps: 360)
        }
    }

    private final class Pair {
        var fast: MeterStateMachine
        let fold: MeterStateMachine
        var sequence: UInt64 = 0
        var records: [(UInt64, StateRecord)] = []

        init() {
            fast = MeterStateMachine(configuration: RunningTotalOracleTests.configuration)
            fold = MeterStateMachine(configuration: RunningTotalOracleTests.configuration)
            fold.usesRunningTotals = false
        }

        @discardableResult
        func apply(_ record: StateRecord) -> ApplyOutcome {
            sequence += 1
            records.append((sequence, record))
            let outcome = fast.apply(record, sequence: sequence)
            XCTAssertEqual("\(outcome)", "\(fold.apply(record, sequence: sequence))")
            return outcome
        }
    }

    private func run(seed: UInt64, steps: Int) throws {
        var random = SplitMix64(seed: seed)
        let pair = Pair()
        for definition in Self.meters { pair.apply(.meterCreated(definition, atMilliseconds: baseTime)) }
        var now = baseTime
        var eventNumber = 0
        var meterIds = (1...Self.meters.count).map { "mtr_\($0)" }
        let eventNames = Self.meters.map(\.eventName) + [Self.backfilled.eventName]
        for step in 0..<steps {
            now += Int64.random(in: 1...110, using: &random) * minute + Int64.random(in: 0..<60_000, using: &random)
            // Admin changes now and then, while events exist.
            if Int.random(in: 0..<8, using: &random) == 0 {
                pair.apply(randomChange(meterIds: meterIds, machine: pair.fast, now: now, random: &random))
            }
            if step == steps / 2 {
                // A meter created after its events: backfilled into hour buckets, with a rule and an entitlement.
                pair.apply(.meterCreated(Self.backfilled, atMilliseconds: now))
                let meterId = "mtr_\(Self.meters.count + 1)"
                meterIds.append(meterId)
                pair.apply(.thresholdRuleAdded(ThresholdRuleDefinition(meterId: meterId, customerId: nil, level: .absolute(decimal("150"))), actor: .bootstrap, atMilliseconds: now))
                pair.apply(.entitlementSet(EntitlementDefinition(meterId: meterId, customerId: nil, limit: decimal("400"), enforcement: .hard), actor: .bootstrap, atMilliseconds: now))
                let target = pair.fast.pendingBackfills.first { $0.meterId == meterId }!.targetSequence
                for (sequence, record) in pair.records where sequence < target {
                    XCTAssertEqual(pair.fast.applyBackfill(meterId: meterId, record: record, sequence: sequence),
                                   pair.fold.applyBackfill(meterId: meterId, record: record, sequence: sequence))
                }
                pair.apply(.backfillProgress(meterId: meterId, completedThroughSequence: target))
            }
            var events: [UsageEvent] = []
            for _ in 0..<Int.random(in: 1...6, using: &random) {
                eventNumber += 1
                let timestamp: Int64
                switch Int.random(in: 0..<10, using: &random) {
                case 0, 1, 2: timestamp = now - Int64.random(in: 0..<(6 * hour - minute), using: &random)  // late
                case 3: timestamp = now + Int64.random(in: 0..<(5 * minute), using: &random)  // future skew
                default: timestamp = now - Int64.random(in: 0..<(2 * minute), using: &random)
                }
                var properties: [String: PropertyValue] = ["region": .string(["eu", "us"].randomElement(using: &random)!),
                                                           "user": .string("u\(Int.random(in: 0..<6, using: &random))")]
                switch Int.random(in: 0..<6, using: &random) {
                case 0: break  // no value: MISSING_VALUE for the numeric meters
                case 1: properties["v"] = .decimal(decimal("\(Int.random(in: -20...99, using: &random)).\(Int.random(in: 0...999, using: &random))"))
                default: properties["v"] = .integer(Int64.random(in: -10...60, using: &random))
                }
                events.append(event("e\(eventNumber)", eventNames.randomElement(using: &random)!, customer: Self.customers.randomElement(using: &random)!,
                                    at: timestamp, properties))
            }
            if Int.random(in: 0..<15, using: &random) == 0 { events.append(events[0]) }  // a duplicate id
            var pending = Set<String>()
            let screening = pair.fast.screen(events, tenantId: Tenant.defaultId, nowMilliseconds: now, pendingEventIds: &pending)
            let accepted = zip(events, screening).filter { $0.1 == .accept }.map(\.0)
            if !accepted.isEmpty { pair.apply(.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: now, events: accepted)) }

            try compare(pair, meterIds: meterIds, now: now, step: step, seed: seed)
            if step % 60 == 59 {
                // A snapshot drops the running totals: the restored machine rebuilds them on first use.
                let bytes = pair.fast.snapshot()
                XCTAssertEqual(bytes, pair.fold.snapshot(), "seed \(seed) step \(step): running totals must not change snapshots")
                pair.fast = try MeterStateMachine(snapshot: bytes, configuration: Self.configuration)
            }
        }
        XCTAssertGreaterThan(pair.fast.lastNotificationNumber, 3, "seed \(seed): the run should cross thresholds")
        // Replaying every record from the start gives the same state and notifications, whether
        // records are applied decoded or from their bytes (decode-into-apply, as recovery does).
        for fromBytes in [false, true] {
            let replayed = MeterStateMachine(configuration: Self.configuration)
            var backfilled = false
            for (sequence, record) in pair.records {
                if case .backfillProgress(let meterId, let target) = record, !backfilled {
                    backfilled = true
                    for (earlier, old) in pair.records where earlier < target { replayed.applyBackfill(meterId: meterId, record: old, sequence: earlier) }
                }
                if fromBytes {
                    let encoded = RecordCodec.encode(record)
                    try replayed.apply(logRecordType: encoded.type, payload: encoded.payload, sequence: sequence)
                } else {
                    replayed.apply(record, sequence: sequence)
                }
            }
            XCTAssertEqual(replayed.snapshot(), pair.fold.snapshot(), "seed \(seed): replay differs (from bytes: \(fromBytes))")
        }
    }

    /// Every usage the running totals answer, for every meter, customer and a few instants around
    /// now (this period, the previous one, the next one, a late event's), against the fold.
    private func compare(_ pair: Pair, meterIds: [String], now: Int64, step: Int, seed: UInt64) throws {
        let instants = [now, now - 5 * hour, now - 86_400_000, now + 86_400_000, now - 8 * 86_400_000]
        for meterId in meterIds {
            let fastState = pair.fast.metersById[meterId]!
            let foldState = pair.fold.metersById[meterId]!
            for customer in Self.customers + ["nobody"] {
                for instant in instants {
                    let period = pair.fast.periodBounds(of: fastState, containing: instant)
                    let fast = Result { () throws(MeterError) in try pair.fast.periodUsage(fastState, tenantId: Tenant.defaultId, customerId: customer, period: period) }
                    let fold = Result { () throws(MeterError) in try pair.fold.customerUsage(foldState, tenantId: Tenant.defaultId, customerId: customer, period: period) }
                    XCTAssertEqual(describe(fast), describe(fold), "seed \(seed) step \(step) meter \(meterId) customer \(customer) instant \(instant)")
                }
                if pair.fast.entitlementState.entitlement(tenantId: Tenant.defaultId, meterId: meterId, customerId: customer) != nil {
                    let fast = try pair.fast.checkEntitlement(tenantId: Tenant.defaultId, meter: .id(meterId), customerId: customer, atMilliseconds: now)
                    let fold = try pair.fold.checkEntitlement(tenantId: Tenant.defaultId, meter: .id(meterId), customerId: customer, atMilliseconds: now)
                    XCTAssertEqual(fast, fold, "seed \(seed) step \(step) check \(meterId) \(customer)")
                }
            }
        }
        XCTAssertEqual(pair.fast.entitlementState.notifications, pair.fold.entitlementState.notifications, "seed \(seed) step \(step)")
    }

    private func describe(_ result: Result<ExactDecimal, MeterError>) -> String {
        switch result {
        case .success(let value): return "value \(value)"
        case .failure(let error): return "error \(error.code)"
        }
    }

    private func randomChange(meterIds: [String], machine: MeterStateMachine, now: Int64, random: inout SplitMix64) -> StateRecord {
        let meterId = meterIds.randomElement(using: &random)!
        let customer: String? = Int.random(in: 0..<3, using: &random) == 0 ? nil : Self.customers.randomElement(using: &random)!
        switch Int.random(in: 0..<7, using: &random) {
        case 0, 1:
            return .entitlementSet(EntitlementDefinition(meterId: meterId, customerId: customer, limit: ExactDecimal(Int64.random(in: 5...600, using: &random)),
                                                         enforcement: Bool.random(using: &random) ? .hard : .soft), actor: .bootstrap, atMilliseconds: now)
        case 2:
            let level: ThresholdLevel = Bool.random(using: &random)
                ? .absolute(ExactDecimal(Int64.random(in: 1...300, using: &random))) : .percentOfEntitlement(ExactDecimal(Int64.random(in: 10...150, using: &random)))
            return .thresholdRuleAdded(ThresholdRuleDefinition(meterId: meterId, customerId: customer, level: level), actor: .bootstrap, atMilliseconds: now)
        case 3:
            return .grantAdded(GrantDefinition(meterId: meterId, customerId: customer ?? "a", amount: ExactDecimal(Int64.random(in: 1...100, using: &random)),
                                               effectiveFromMilliseconds: now - hour, expiresAtMilliseconds: Bool.random(using: &random) ? now + 20 * hour : nil),
                               actor: .bootstrap, atMilliseconds: now)
        case 4:
            if let rule = machine.entitlementState.ruleOrder.randomElement(using: &random) {
                return .thresholdRuleRemoved(tenantId: Tenant.defaultId, ruleId: rule, actor: .bootstrap, atMilliseconds: now)
            }
        case 5:
            if let key = machine.entitlementState.entitlements.keys.sorted().randomElement(using: &random) {
                return .entitlementRemoved(tenantId: Tenant.defaultId, meterId: key.meterId, customerId: key.customerId, actor: .bootstrap, atMilliseconds: now)
            }
        default:
            if let grant = machine.entitlementState.grantOrder.randomElement(using: &random) {
                return .grantRemoved(tenantId: Tenant.defaultId, grantId: grant, actor: .bootstrap, atMilliseconds: now)
            }
        }
        return .thresholdRuleAdded(ThresholdRuleDefinition(meterId: meterId, customerId: nil, level: .absolute(ExactDecimal(Int64.random(in: 20...200, using: &random)))),
                                   actor: .bootstrap, atMilliseconds: now)
    }
}
