/// The entitlement part of the state machine: entitlements by meter and customer, grants,
/// threshold rules, which (rule, customer, period) crossings were raised, and the numbered
/// notifications. Changed only by applying log records, and written whole into snapshots.
struct EntitlementState {
    var entitlements: [EntitlementKey: Entitlement] = [:]
    var grantsById: [String: Grant] = [:]
    /// Grant ids in creation order.
    var grantOrder: [String] = []
    var nextGrantNumber: UInt64 = 1
    var rulesById: [String: ThresholdRule] = [:]
    /// Rule ids in creation order.
    var ruleOrder: [String] = []
    var nextRuleNumber: UInt64 = 1
    /// Rule ids by meter id, in creation order: the apply path looks here first, so meters
    /// without rules pay one dictionary lookup per record.
    var rulesByMeter: [String: [String]] = [:]
    /// Crossings already raised: never raised again.
    var fired: Set<FiredThreshold> = []
    /// Every notification raised, in number order (number = index + 1).
    var notifications: [ThresholdNotification] = []

    /// Grant ids by meter and customer, in creation order (derived from the grants; rebuilt on
    /// load), so a check or a percentage threshold reads one customer's grants, not all of them.
    var grantIdsByScope: [GrantScope: [String]] = [:]

    /// The grants of one meter and customer, in creation order.
    func grants(meterId: String, customerId: String) -> [Grant] {
        (grantIdsByScope[GrantScope(meterId: meterId, customerId: customerId)] ?? []).map { grantsById[$0]! }
    }

    mutating func addGrant(_ grant: Grant) {
        grantsById[grant.id] = grant
        grantOrder.append(grant.id)
        grantIdsByScope[GrantScope(meterId: grant.definition.meterId, customerId: grant.definition.customerId), default: []].append(grant.id)
    }

    mutating func removeGrant(id: String) -> Grant {
        let grant = grantsById.removeValue(forKey: id)!
        grantOrder.removeAll { $0 == id }
        let scope = GrantScope(meterId: grant.definition.meterId, customerId: grant.definition.customerId)
        grantIdsByScope[scope]?.removeAll { $0 == id }
        if grantIdsByScope[scope]?.isEmpty == true { grantIdsByScope[scope] = nil }
        return grant
    }

    /// The entitlement that applies to a customer: their own, else the tenant-wide default.
    func entitlement(tenantId: String, meterId: String, customerId: String) -> Entitlement? {
        entitlements[EntitlementKey(tenantId: tenantId, meterId: meterId, customerId: customerId)]
            ?? entitlements[EntitlementKey(tenantId: tenantId, meterId: meterId, customerId: nil)]
    }

    mutating func rebuildRuleIndex() {
        rulesByMeter = [:]
        for id in ruleOrder { rulesByMeter[rulesById[id]!.definition.meterId, default: []].append(id) }
    }
}

/// One raised crossing: a rule, a customer and the start of the period (Int64.min for the
/// lifetime of a CUMULATIVE meter).
struct FiredThreshold: Hashable, Comparable {
    var ruleId: String
    var customerId: String
    var periodStartMilliseconds: Int64

    static func < (left: FiredThreshold, right: FiredThreshold) -> Bool {
        (left.ruleId, left.customerId, left.periodStartMilliseconds) < (right.ruleId, right.customerId, right.periodStartMilliseconds)
    }
}

/// A meter and a customer: the scope grants apply to.
struct GrantScope: Hashable {
    var meterId: String
    var customerId: String
}
