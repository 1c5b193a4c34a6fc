import MeterCore

/// Entitlements, grants, threshold rules, checks and notifications. Changes go through the log
/// like meter changes (validated on the writer against the current state, answered once
/// durable); checks and notification reads run on the writer against the applied state.
extension MeterEngine {
    /// Sets (creates or replaces) the entitlement of a meter for a customer, or the tenant-wide
    /// default when `customerId` is nil.
    public func setEntitlement(tenantId: String, meter: MeterReference, customerId: String?, limit: ExactDecimal,
                               enforcement: EntitlementEnforcement, actor: AuditActor) async throws(EngineError) -> Entitlement {
        let change = try await changeEntitlements { machine, now throws(MeterError) in
            let definition = EntitlementDefinition(tenantId: tenantId, meterId: try machine.meter(tenantId: tenantId, meter).id,
                                                   customerId: customerId, limit: limit, enforcement: enforcement)
            try machine.validateEntitlement(definition)
            return .entitlementSet(definition, actor: actor, atMilliseconds: now)
        }
        guard case .entitlementSet(let entitlement) = change else { throw Self.unexpected(change) }
        return entitlement
    }

    /// Removes the entitlement of a meter for a customer (nil: the tenant-wide default).
    public func removeEntitlement(tenantId: String, meter: MeterReference, customerId: String?, actor: AuditActor) async throws(EngineError) -> Entitlement {
        let change = try await changeEntitlements { machine, now throws(MeterError) in
            let meterId = try machine.meter(tenantId: tenantId, meter).id
            try machine.validateEntitlementRemoval(tenantId: tenantId, meterId: meterId, customerId: customerId)
            return .entitlementRemoved(tenantId: tenantId, meterId: meterId, customerId: customerId, actor: actor, atMilliseconds: now)
        }
        guard case .entitlementRemoved(let entitlement) = change else { throw Self.unexpected(change) }
        return entitlement
    }

    /// Adds a grant; `effectiveFromMilliseconds` nil means from now.
    public func addGrant(tenantId: String, meter: MeterReference, customerId: String, amount: ExactDecimal,
                         effectiveFromMilliseconds: Int64?, expiresAtMilliseconds: Int64?, actor: AuditActor) async throws(EngineError) -> Grant {
        let change = try await changeEntitlements { machine, now throws(MeterError) in
            let definition = GrantDefinition(tenantId: tenantId, meterId: try machine.meter(tenantId: tenantId, meter).id, customerId: customerId,
                                             amount: amount, effectiveFromMilliseconds: effectiveFromMilliseconds ?? now,
                                             expiresAtMilliseconds: expiresAtMilliseconds)
            try machine.validateGrant(definition)
            return .grantAdded(definition, actor: actor, atMilliseconds: now)
        }
        guard case .grantAdded(let grant) = change else { throw Self.unexpected(change) }
        return grant
    }

    public func removeGrant(tenantId: String, grantId: String, actor: AuditActor) async throws(EngineError) -> Grant {
        let change = try await changeEntitlements { machine, now throws(MeterError) in
            try machine.validateGrantRemoval(tenantId: tenantId, grantId: grantId)
            return .grantRemoved(tenantId: tenantId, grantId: grantId, actor: actor, atMilliseconds: now)
        }
        guard case .grantRemoved(let grant) = change else { throw Self.unexpected(change) }
        return grant
    }

    /// Adds a threshold rule on a meter, for one customer or (nil) all of the tenant's.
    public func addThresholdRule(tenantId: String, meter: MeterReference, customerId: String?, level: ThresholdLevel,
                                 actor: AuditActor) async throws(EngineError) -> ThresholdRule {
        let change = try await changeEntitlements { machine, now throws(MeterError) in
            let definition = ThresholdRuleDefinition(tenantId: tenantId, meterId: try machine.meter(tenantId: tenantId, meter).id,
                                                     customerId: customerId, level: level)
            try machine.validateThresholdRule(definition)
            return .thresholdRuleAdded(definition, actor: actor, atMilliseconds: now)
        }
        guard case .thresholdRuleAdded(let rule) = change else { throw Self.unexpected(change) }
        return rule
    }

    public func removeThresholdRule(tenantId: String, ruleId: String, actor: AuditActor) async throws(EngineError) -> ThresholdRule {
        let change = try await changeEntitlements { machine, now throws(MeterError) in
            try machine.validateThresholdRuleRemoval(tenantId: tenantId, ruleId: ruleId)
            return .thresholdRuleRemoved(tenantId: tenantId, ruleId: ruleId, actor: actor, atMilliseconds: now)
        }
        guard case .thresholdRuleRemoved(let rule) = change else { throw Self.unexpected(change) }
        return rule
    }

    /// Whether the customer may use the meter at `atMilliseconds` (nil: now, the engine's clock).
    public func checkEntitlement(tenantId: String, meter: MeterReference, customerId: String,
                                 atMilliseconds: Int64? = nil) async throws(EngineError) -> EntitlementCheck {
        let instant = atMilliseconds ?? options.clock()
        return try await read { machine throws(MeterError) in
            try machine.checkEntitlement(tenantId: tenantId, meter: meter, customerId: customerId, atMilliseconds: instant)
        }
    }

    /// The tenant's notifications numbered above `afterNumber` (at most `limit`), waiting up to
    /// `waitMilliseconds` for one when there is none yet (a long poll). Returns them with the
    /// newest number of the whole server, which the caller may resume from when none matched.
    public func notifications(tenantId: String, afterNumber: UInt64, limit: Int,
                              waitMilliseconds: Int64 = 0) async throws(EngineError) -> (notifications: [ThresholdNotification], lastNumber: UInt64) {
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Swift.max(0, waitMilliseconds)))
        var after = afterNumber
        while true {
            let (found, last) = try await read { machine in
                (machine.notifications(tenantId: tenantId, afterNumber: after, limit: limit), machine.lastNotificationNumber)
            }
            if !found.isEmpty || ContinuousClock.now >= deadline { return (found, Swift.max(last, afterNumber)) }
            // Numbers up to `last` hold nothing for this tenant: wait for a newer one.
            after = Swift.max(after, last)
            await notificationSignal.wait(after: after, until: deadline)
        }
    }

    private func changeEntitlements(
        _ make: @escaping (MeterStateMachine, Int64) throws(MeterError) -> StateRecord
    ) async throws(EngineError) -> EntitlementChange {
        let result: Result<EntitlementChange, EngineError> = await withCheckedContinuation { continuation in
            submit(.changeEntitlements(make: make, reply: { continuation.resume(returning: $0) }))
        }
        return try result.get()
    }

    private static func unexpected(_ change: EntitlementChange) -> EngineError {
        .unavailable("internal error: unexpected entitlement change \(change)")
    }
}
