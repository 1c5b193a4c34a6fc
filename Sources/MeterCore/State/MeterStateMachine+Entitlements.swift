/// Entitlements, grants and threshold rules: state like meters and keys, changed only by
/// applying log records (so they replay and are in snapshots), checked against the aggregates
/// in memory. Threshold crossings are decided here, when the record that crosses is applied.
extension MeterStateMachine {
    /// Largest limit, grant amount or threshold accepted: the range event values may have.
    static let entitlementValueMaximumUnits = ExactDecimal.maximumInputMagnitudeUnits

    // MARK: Validation without side effects

    /// Checks an entitlement before it is written: an active meter of the tenant, a valid
    /// customer id (or none for the default) and a limit of zero or more.
    public func validateEntitlement(_ definition: EntitlementDefinition) throws(MeterError) {
        let state = try meterState(tenantId: definition.tenantId, id: definition.meterId)
        guard state.meter.status == .active else {
            throw MeterError(.meterArchived, "meter \(definition.meterId) is archived; entitlements need an active meter")
        }
        try validateCustomer(definition.customerId, code: .invalidEntitlement)
        guard !definition.limit.isNegative, definition.limit.units < Self.entitlementValueMaximumUnits else {
            throw MeterError(.invalidEntitlement, "the limit must be at least 0 and below 10^20, got \(definition.limit)")
        }
    }

    /// Checks that an entitlement exists for the meter and customer (nil: the default).
    public func validateEntitlementRemoval(tenantId: String, meterId: String, customerId: String?) throws(MeterError) {
        guard entitlementState.entitlements[EntitlementKey(tenantId: tenantId, meterId: meterId, customerId: customerId)] != nil else {
            throw MeterError(.entitlementNotFound, "no entitlement on meter \(quoted(meterId)) for \(customerId.map { "customer \(quoted($0))" } ?? "the tenant-wide default")")
        }
    }

    /// Checks a grant: a meter of the tenant, a customer, an amount above 0 and an expiry after
    /// its start.
    public func validateGrant(_ definition: GrantDefinition) throws(MeterError) {
        _ = try meterState(tenantId: definition.tenantId, id: definition.meterId)
        try validateCustomer(definition.customerId, code: .invalidGrant)
        guard definition.amount.units > 0, definition.amount.units < Self.entitlementValueMaximumUnits else {
            throw MeterError(.invalidGrant, "the amount must be above 0 and below 10^20, got \(definition.amount)")
        }
        if let expires = definition.expiresAtMilliseconds, expires <= definition.effectiveFromMilliseconds {
            throw MeterError(.invalidGrant, "a grant must expire after it becomes effective")
        }
    }

    public func validateGrantRemoval(tenantId: String, grantId: String) throws(MeterError) {
        guard let grant = entitlementState.grantsById[grantId], grant.definition.tenantId == tenantId else {
            throw MeterError(.grantNotFound, "no grant with id \(quoted(grantId))")
        }
    }

    /// Checks a threshold rule: a meter of the tenant, an optional valid customer, and a level
    /// above 0 (a percentage at most 10,000).
    public func validateThresholdRule(_ definition: ThresholdRuleDefinition) throws(MeterError) {
        _ = try meterState(tenantId: definition.tenantId, id: definition.meterId)
        try validateCustomer(definition.customerId, code: .invalidThresholdRule)
        switch definition.level {
        case .absolute(let value):
            guard value.units > 0, value.units < Self.entitlementValueMaximumUnits else {
                throw MeterError(.invalidThresholdRule, "an absolute threshold must be above 0 and below 10^20, got \(value)")
            }
        case .percentOfEntitlement(let percent):
            guard percent.units > 0, percent <= ExactDecimal(10_000) else {
                throw MeterError(.invalidThresholdRule, "a percentage must be above 0 and at most 10000, got \(percent)")
            }
        }
    }

    public func validateThresholdRuleRemoval(tenantId: String, ruleId: String) throws(MeterError) {
        guard let rule = entitlementState.rulesById[ruleId], rule.definition.tenantId == tenantId else {
            throw MeterError(.thresholdRuleNotFound, "no threshold rule with id \(quoted(ruleId))")
        }
    }

    private func validateCustomer(_ customerId: String?, code: RejectionCode) throws(MeterError) {
        guard let customerId else { return }
        guard NameRules.isValidIdentifier(customerId, maximumBytes: configuration.limits.customerIdMaximumBytes) else {
            throw MeterError(code, "customer_id must be 1-\(configuration.limits.customerIdMaximumBytes) bytes without control characters")
        }
    }

    // MARK: Reading

    /// The tenant's entitlements (of one meter when given), the defaults first for each meter.
    public func entitlements(tenantId: String, meterId: String? = nil) -> [Entitlement] {
        entitlementState.entitlements.keys
            .filter { $0.tenantId == tenantId && (meterId == nil || $0.meterId == meterId) }
            .sorted()
            .map { entitlementState.entitlements[$0]! }
    }

    /// The tenant's grants (of one meter and customer when given), in creation order.
    public func grants(tenantId: String, meterId: String? = nil, customerId: String? = nil) -> [Grant] {
        entitlementState.grantOrder.compactMap { id in
            let grant = entitlementState.grantsById[id]!
            guard grant.definition.tenantId == tenantId, meterId == nil || grant.definition.meterId == meterId,
                  customerId == nil || grant.definition.customerId == customerId else { return nil }
            return grant
        }
    }

    /// The tenant's threshold rules (of one meter when given), in creation order.
    public func thresholdRules(tenantId: String, meterId: String? = nil) -> [ThresholdRule] {
        entitlementState.ruleOrder.compactMap { id in
            let rule = entitlementState.rulesById[id]!
            guard rule.definition.tenantId == tenantId, meterId == nil || rule.definition.meterId == meterId else { return nil }
            return rule
        }
    }

    /// The number of the newest notification of any tenant (0: none yet).
    public var lastNotificationNumber: UInt64 { UInt64(entitlementState.notifications.count) }

    /// The tenant's (nil: every tenant's) notifications numbered above `afterNumber`, oldest
    /// first, at most `limit`.
    public func notifications(tenantId: String?, afterNumber: UInt64, limit: Int) -> [ThresholdNotification] {
        var found: [ThresholdNotification] = []
        let all = entitlementState.notifications
        var index = Int(Swift.min(afterNumber, UInt64(all.count)))
        while index < all.count && found.count < limit {
            if tenantId == nil || all[index].tenantId == tenantId { found.append(all[index]) }
            index += 1
        }
        return found
    }

    /// Whether `customerId` may use the meter at `atMilliseconds`, with the usage, limit and
    /// balance behind the answer (see `EntitlementCheck`). Throws ENTITLEMENT_NOT_FOUND when
    /// neither the customer nor the tenant-wide default has an entitlement on the meter.
    public func checkEntitlement(
        tenantId: String, meter reference: MeterReference, customerId: String, atMilliseconds: Int64
    ) throws(MeterError) -> EntitlementCheck {
        let state = try resolve(tenantId: tenantId, reference)
        let meterId = state.meter.id
        try EntitlementCheck.checkInstant(atMilliseconds)
        guard let entitlement = entitlementState.entitlement(tenantId: tenantId, meterId: meterId, customerId: customerId) else {
            throw MeterError(.entitlementNotFound, "customer \(quoted(customerId)) has no entitlement on meter \(meterId), and the meter has no tenant-wide default")
        }
        let period = periodBounds(of: state, containing: atMilliseconds)
        let usage = try periodUsage(state, tenantId: tenantId, customerId: customerId, period: period)
        let granted = try grantedAmount(tenantId: tenantId, meterId: meterId, customerId: customerId, atMilliseconds: atMilliseconds)
        return try EntitlementCheck(meterId: meterId, customerId: customerId, entitlement: entitlement.definition,
                                    usage: usage, granted: granted, period: period, atMilliseconds: atMilliseconds)
    }

    // MARK: Usage of one customer

    /// The billing period of a PERIODIC meter containing the instant; nil for CUMULATIVE meters.
    func periodBounds(of state: MeterState, containing instant: Int64) -> (start: Int64, end: Int64)? {
        EntitlementCheck.periodBounds(reset: state.meter.definition.reset, containing: instant)
    }

    /// One customer's usage in `period` (nil: the lifetime of a CUMULATIVE meter), folding only
    /// that customer's series (one per group-by value tuple), never the meter's other customers.
    func customerUsage(_ state: MeterState, tenantId: String, customerId: String, period: (start: Int64, end: Int64)?) throws(MeterError) -> ExactDecimal {
        guard let customer = tenants[tenantId]?.customerIndex.value(for: customerId) else { return .zero }
        let query = UsageQuery(tenantId: tenantId, meter: .id(state.meter.id),
                               fromMilliseconds: period?.start ?? UsageQuery.earliestMilliseconds,
                               toMilliseconds: period?.end ?? UsageQuery.latestMilliseconds, customerId: customerId)
        var plan = try UsageQueryPlan(query: query, state: state, rolledBeforeMinute: rolledBeforeMinute)
        for group in 0..<state.groups.count {
            if let series = state.store.series(customer: customer, group: UInt32(group)) {
                try plan.add(state.store, series: series, customer: customer, group: state.groups[group])
            }
        }
        let rows = try plan.rows(customers: tenants[tenantId]?.customers ?? [])
        return rows.first?.value ?? .zero
    }

    func grantedAmount(tenantId: String, meterId: String, customerId: String, atMilliseconds: Int64) throws(MeterError) -> ExactDecimal {
        var total = ExactDecimal.zero
        for grant in entitlementState.grants(meterId: meterId, customerId: customerId)
        where grant.definition.tenantId == tenantId && grant.definition.isEffective(atMilliseconds: atMilliseconds) {
            total = try EntitlementCheck.checked { () throws(ExactDecimalError) in try total.adding(grant.definition.amount) }
        }
        return total
    }

    /// The customer's grants on the meter, in the order they were added.
    func grantDefinitions(tenantId: String, meterId: String, customerId: String) -> [GrantDefinition] {
        entitlementState.grants(meterId: meterId, customerId: customerId).compactMap { grant in
            grant.definition.tenantId == tenantId ? grant.definition : nil
        }
    }
}
