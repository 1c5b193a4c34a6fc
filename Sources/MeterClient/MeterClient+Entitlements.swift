import MeterProto
import MeterWire

/// Entitlements, grants, threshold rules (admin role), CheckEntitlement and the
/// ListNotifications long poll (read role).
extension MeterClient {
    /// Sets (creates or replaces) a meter's entitlement for `customerId`, or the tenant-wide
    /// default when `customerId` is empty. `limit` is exact decimal text.
    public func setEntitlement(meter: Meterd_V1_MeterReference, customerId: String = "", limit: String,
                               enforcement: Meterd_V1_Enforcement = .hard, timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_Entitlement {
        var request = Meterd_V1_SetEntitlementRequest()
        request.meter = meter
        request.customerID = customerId
        request.limit = limit
        request.enforcement = enforcement
        return try await call(.setEntitlement, request, as: Meterd_V1_SetEntitlementResponse.self, timeout: timeout).entitlement
    }

    /// The tenant's entitlements and grants (of one meter when given).
    public func listEntitlements(meter: Meterd_V1_MeterReference? = nil, timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_ListEntitlementsResponse {
        var request = Meterd_V1_ListEntitlementsRequest()
        if let meter { request.meter = meter }
        return try await call(.listEntitlements, request, as: Meterd_V1_ListEntitlementsResponse.self, timeout: timeout)
    }

    /// Removes a meter's entitlement for `customerId` (empty: the tenant-wide default).
    public func removeEntitlement(meter: Meterd_V1_MeterReference, customerId: String = "", timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_Entitlement {
        var request = Meterd_V1_RemoveEntitlementRequest()
        request.meter = meter
        request.customerID = customerId
        return try await call(.removeEntitlement, request, as: Meterd_V1_RemoveEntitlementResponse.self, timeout: timeout).entitlement
    }

    /// Adds a grant of `amount` (decimal text) from `effectiveFromMilliseconds` (0: now) until
    /// `expiresAtMilliseconds` (0: never).
    public func addGrant(meter: Meterd_V1_MeterReference, customerId: String, amount: String, effectiveFromMilliseconds: Int64 = 0,
                         expiresAtMilliseconds: Int64 = 0, timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_Grant {
        var request = Meterd_V1_AddGrantRequest()
        request.meter = meter
        request.customerID = customerId
        request.amount = amount
        request.effectiveFromMs = effectiveFromMilliseconds
        request.expiresAtMs = expiresAtMilliseconds
        return try await call(.addGrant, request, as: Meterd_V1_AddGrantResponse.self, timeout: timeout).grant
    }

    public func removeGrant(id: String, timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_Grant {
        var request = Meterd_V1_RemoveGrantRequest()
        request.id = id
        return try await call(.removeGrant, request, as: Meterd_V1_RemoveGrantResponse.self, timeout: timeout).grant
    }

    /// Whether `customerId` may use the meter at `atMilliseconds` (0: now), with usage, limit
    /// and balance, answered from the server's memory.
    public func checkEntitlement(meter: Meterd_V1_MeterReference, customerId: String, atMilliseconds: Int64 = 0,
                                 timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_CheckEntitlementResponse {
        var request = Meterd_V1_CheckEntitlementRequest()
        request.meter = meter
        request.customerID = customerId
        request.atMs = atMilliseconds
        return try await call(.checkEntitlement, request, as: Meterd_V1_CheckEntitlementResponse.self, timeout: timeout)
    }

    /// Adds a threshold rule: `value` (absolute usage) or `percent` (of the entitlement), one of
    /// the two, as decimal text; for `customerId` or (empty) every customer.
    public func addThresholdRule(meter: Meterd_V1_MeterReference, customerId: String = "", value: String? = nil, percent: String? = nil,
                                 timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_ThresholdRule {
        var request = Meterd_V1_AddThresholdRuleRequest()
        request.meter = meter
        request.customerID = customerId
        if let value { request.value = value }
        if let percent { request.percent = percent }
        return try await call(.addThresholdRule, request, as: Meterd_V1_AddThresholdRuleResponse.self, timeout: timeout).rule
    }

    public func listThresholdRules(meter: Meterd_V1_MeterReference? = nil, timeout: Duration? = nil) async throws(MeterClientError) -> [Meterd_V1_ThresholdRule] {
        var request = Meterd_V1_ListThresholdRulesRequest()
        if let meter { request.meter = meter }
        return try await call(.listThresholdRules, request, as: Meterd_V1_ListThresholdRulesResponse.self, timeout: timeout).rules
    }

    public func removeThresholdRule(id: String, timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_ThresholdRule {
        var request = Meterd_V1_RemoveThresholdRuleRequest()
        request.id = id
        return try await call(.removeThresholdRule, request, as: Meterd_V1_RemoveThresholdRuleResponse.self, timeout: timeout).rule
    }

    /// The tenant's notifications numbered above `afterNumber`, waiting up to `waitMilliseconds`
    /// (at most 30000) when there are none yet. Resume with the response's `lastNumber`.
    public func listNotifications(afterNumber: UInt64, limit: UInt32 = 0, waitMilliseconds: UInt32 = 0,
                                  timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_ListNotificationsResponse {
        var request = Meterd_V1_ListNotificationsRequest()
        request.afterNumber = afterNumber
        request.limit = limit
        request.waitMs = waitMilliseconds
        let wait = Duration.milliseconds(Int64(waitMilliseconds))
        return try await call(.listNotifications, request, as: Meterd_V1_ListNotificationsResponse.self,
                              timeout: timeout ?? (wait + .seconds(10)))
    }

    /// Webhook delivery of the whole server (admin): cursor, counts and dead letters.
    public func webhookStatus(timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_GetWebhookStatusResponse {
        try await call(.getWebhookStatus, Meterd_V1_GetWebhookStatusRequest(), as: Meterd_V1_GetWebhookStatusResponse.self, timeout: timeout)
    }
}
