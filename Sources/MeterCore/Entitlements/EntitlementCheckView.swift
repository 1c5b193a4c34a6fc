import Synchronization

/// A read-only copy of what `CheckEntitlement` needs, published by the engine's writer so that
/// a check is answered on the caller's thread instead of queueing behind the writer's work.
///
/// Once a check of a meter went through the writer, that meter is watched: per (tenant, meter,
/// customer) checked since, or with events since and an entitlement, it holds the resolved
/// meter (id and reset policy), the entitlement that applies (the customer's own or the
/// tenant-wide default), the customer's grants on the meter, and the usage of the customer's
/// running-total slot (see `RunningTotals`): its period bounds, its value, and the value of any
/// later (empty) period. The writer updates it after applying each group and before answering
/// that group (`MeterStateMachine.publishCheckViewChanges(into:)`), so a check through the view
/// sees every acknowledged write; a change of meters, entitlements, grants, rules or a backfill
/// step clears it (`clear()`), and checks fall back to the writer until they repopulate it.
///
/// Not covered (`check` answers nil, the caller asks the writer): a meter reference not checked
/// through the writer since the last clear; a customer neither checked through the writer nor
/// with events since then (their first check goes to the writer, which adds them); an instant in a period before the slot's
/// (a check of the past); errors that come before the usage (unknown meter, no entitlement).
///
/// Memory: one `Entry` per held (tenant, meter, customer) (about 300 bytes plus 80 per grant,
/// plus the customer id) and one meter per checked reference, at most `maximumEntries`
/// customers; beyond it new customers are not added (their checks keep going to the writer).
/// A watched meter also gets a running-total slot for each customer with events (see
/// `RunningTotals`), which a check of that customer would have made anyway.
public final class EntitlementCheckView: Sendable {
    /// What the view keeps of one customer's usage: the running-total slot's bounds and value,
    /// and the value of a later period (no usage yet).
    struct Usage: Sendable {
        var start: Int64
        var end: Int64
        var value: Result<ExactDecimal, MeterError>
        var later: Result<ExactDecimal, MeterError>
    }

    struct Entry: Sendable {
        var entitlement: EntitlementDefinition
        var grants: [GrantDefinition]
        var usage: Usage
    }

    struct MeterKey: Hashable, Sendable {
        var tenantId: String
        var reference: MeterReference
    }

    struct CustomerKey: Hashable, Sendable {
        var tenantId: String
        var meterId: String
        var customerId: String
    }

    struct ResolvedMeter: Sendable {
        var meterId: String
        var reset: ResetPolicy
    }

    struct Contents: Sendable {
        var meters: [MeterKey: ResolvedMeter] = [:]
        var customers: [CustomerKey: Entry] = [:]
        var rolledBeforeMinute: Int64 = .min
        var hits: UInt64 = 0
        var misses: UInt64 = 0
    }

    let contents = Mutex(Contents())
    /// Most customers held; see the type's doc comment.
    public let maximumEntries: Int

    public init(maximumEntries: Int = 1_000_000) {
        self.maximumEntries = maximumEntries
    }

    /// The check's answer (or its error) from the view, exactly as
    /// `MeterStateMachine.checkEntitlement` would give it on the writer; nil when the view does
    /// not cover it (see the type's doc comment).
    public func check(tenantId: String, meter reference: MeterReference, customerId: String,
                      atMilliseconds instant: Int64) -> Result<EntitlementCheck, MeterError>? {
        contents.withLock { contents -> Result<EntitlementCheck, MeterError>? in
            guard let meter = contents.meters[MeterKey(tenantId: tenantId, reference: reference)],
                  let entry = contents.customers[CustomerKey(tenantId: tenantId, meterId: meter.meterId, customerId: customerId)] else {
                contents.misses += 1
                return nil
            }
            let answer = Self.answer(meter: meter, entry: entry, customerId: customerId, at: instant,
                                     rolledBeforeMinute: contents.rolledBeforeMinute)
            if answer == nil { contents.misses += 1 } else { contents.hits += 1 }
            return answer
        }
    }

    /// Checks answered from the view and checks it left to the writer, since start.
    public var counts: (hits: UInt64, misses: UInt64) {
        contents.withLock { ($0.hits, $0.misses) }
    }

    /// Customers held now.
    public var count: Int { contents.withLock { $0.customers.count } }

    /// Forgets everything (after a change of meters, entitlements, grants or rules).
    public func clear() {
        contents.withLock { contents in
            contents.meters.removeAll()
            contents.customers.removeAll()
        }
    }

    /// The same steps, in the same order, as `checkEntitlement` after resolving the meter and
    /// the entitlement; nil for a period before the slot's (the writer folds it).
    private static func answer(meter: ResolvedMeter, entry: Entry, customerId: String, at instant: Int64,
                               rolledBeforeMinute: Int64) -> Result<EntitlementCheck, MeterError>? {
        do throws(MeterError) {
            try EntitlementCheck.checkInstant(instant)
            let period = EntitlementCheck.periodBounds(reset: meter.reset, containing: instant)
            let from = period?.start ?? UsageQuery.earliestMilliseconds
            let to = period?.end ?? UsageQuery.latestMilliseconds
            try UsageQueryPlan.checkRange(from: from, to: to)
            try UsageQueryPlan.checkResolution([from, to], rolledBeforeMinute: rolledBeforeMinute)
            let usage: ExactDecimal
            if let period, period.start != entry.usage.start {
                guard period.start >= entry.usage.end else { return nil }
                usage = try entry.usage.later.get()
            } else {
                usage = try entry.usage.value.get()
            }
            let granted = try EntitlementCheck.granted(entry.grants, atMilliseconds: instant)
            return .success(try EntitlementCheck(meterId: meter.meterId, customerId: customerId, entitlement: entry.entitlement,
                                                 usage: usage, granted: granted, period: period, atMilliseconds: instant))
        } catch {
            return .failure(error)
        }
    }

    func store(tenantId: String, reference: MeterReference, meter: ResolvedMeter, customerId: String, entry: Entry,
               rolledBeforeMinute: Int64) {
        contents.withLock { contents in
            let key = CustomerKey(tenantId: tenantId, meterId: meter.meterId, customerId: customerId)
            guard contents.customers[key] != nil || contents.customers.count < maximumEntries else { return }
            contents.meters[MeterKey(tenantId: tenantId, reference: reference)] = meter
            contents.customers[key] = entry
            contents.rolledBeforeMinute = rolledBeforeMinute
        }
    }

    /// Replaces the usage of customers already held; returns the changes of those not held.
    func update(_ changes: [(key: CustomerKey, usage: Usage)], rolledBeforeMinute: Int64) -> [(key: CustomerKey, usage: Usage)] {
        contents.withLock { contents in
            var missing: [(key: CustomerKey, usage: Usage)] = []
            for change in changes {
                if let position = contents.customers.index(forKey: change.key) {
                    contents.customers.values[position].usage = change.usage
                } else {
                    missing.append(change)
                }
            }
            contents.rolledBeforeMinute = rolledBeforeMinute
            return missing
        }
    }

    /// Adds customers not held yet (made by the writer between `update` and this call, so
    /// nothing else changed the view meanwhile), up to `maximumEntries`.
    func insert(_ entries: [(key: CustomerKey, entry: Entry)]) {
        guard !entries.isEmpty else { return }
        contents.withLock { contents in
            for (key, entry) in entries where contents.customers.count < maximumEntries {
                contents.customers[key] = entry
            }
        }
    }
}

extension EntitlementCheck {
    /// The answer for an entitlement, a usage and a granted amount: shared by the writer's check
    /// and the view's, so both compute it the same way.
    init(meterId: String, customerId: String, entitlement: EntitlementDefinition, usage: ExactDecimal, granted: ExactDecimal,
         period: (start: Int64, end: Int64)?, atMilliseconds: Int64) throws(MeterError) {
        let limit = try Self.checked { () throws(ExactDecimalError) in try entitlement.limit.adding(granted) }
        let balance = try Self.checked { () throws(ExactDecimalError) in try limit.subtracting(usage) }
        let enforcement = entitlement.enforcement
        self.init(
            meterId: meterId, customerId: customerId,
            hasAccess: enforcement == .soft || balance.units > 0,
            enforcement: enforcement, isDefault: entitlement.customerId == nil,
            usage: usage, limit: limit, granted: granted,
            remaining: balance.isNegative ? .zero : balance,
            overage: balance.isNegative ? ExactDecimal(units: -balance.units) : .zero,
            periodStartMilliseconds: period?.start, periodEndMilliseconds: period?.end, atMilliseconds: atMilliseconds)
    }

    /// Throws INVALID_QUERY for an instant a check cannot ask about.
    static func checkInstant(_ instant: Int64) throws(MeterError) {
        guard instant >= UsageQuery.earliestMilliseconds, instant < UsageQuery.latestMilliseconds - 400 * 86_400_000 else {
            throw MeterError(.invalidQuery, "the instant must lie between 1970 and 9998")
        }
    }

    /// The billing period of a PERIODIC meter containing the instant; nil for CUMULATIVE meters.
    static func periodBounds(reset: ResetPolicy, containing instant: Int64) -> (start: Int64, end: Int64)? {
        guard case .periodic(let period, let anchor) = reset else { return nil }
        let bounds = period.periodBounds(containing: instant, anchorMilliseconds: anchor)
        return (bounds.startMilliseconds, bounds.endMilliseconds)
    }

    /// The sum of the grants effective at the instant.
    static func granted(_ grants: [GrantDefinition], atMilliseconds instant: Int64) throws(MeterError) -> ExactDecimal {
        var total = ExactDecimal.zero
        for grant in grants where grant.isEffective(atMilliseconds: instant) {
            total = try checked { () throws(ExactDecimalError) in try total.adding(grant.amount) }
        }
        return total
    }

    static func checked(_ body: () throws(ExactDecimalError) -> ExactDecimal) throws(MeterError) -> ExactDecimal {
        do {
            return try body()
        } catch {
            throw MeterError(.valueOverflow, "the limit or balance exceeds the supported range")
        }
    }
}
