import MeterCore

/// Entitlements, grants, threshold rules, checks and notifications. Changes go through the log
/// like meter changes (validated on the writer against the current state, answered once
/// durable); checks and notification reads run on the writer against the applied state.
extension MeterEngine {
    /// Writes an entitlement, grant or threshold-rule change (see `EntitlementCommand`) and
    /// answers with what it changed once it is durable and applied.
    public func change(_ command: EntitlementCommand) async throws(EngineError) -> EntitlementChange {
        try await change(command) { $0 }
    }

    /// `change(_:)` answering with `answer(change)`, computed on the writer. Servers use this
    /// form to turn the change into a reply message there, so that no value holding an
    /// `ExactDecimal` lives in an async frame (see `EntitlementCommand`).
    public func change<Value: Sendable>(_ command: EntitlementCommand,
                                        answer: @escaping (EntitlementChange) -> Value) async throws(EngineError) -> Value {
        if let replicated = options.replicatedLog {
            return try await replicateChange(replicated, command, answer: answer)
        }
        return try await call { reply in .changeEntitlements(make: command.make, reply: { result in reply(result.map(answer)) }) }
    }

    /// Whether the customer may use the meter at `atMilliseconds` (nil: now, the engine's clock).
    public func checkEntitlement(tenantId: String, meter: MeterReference, customerId: String,
                                 atMilliseconds: Int64? = nil) async throws(EngineError) -> EntitlementCheck {
        try await checkEntitlement(tenantId: tenantId, meter: meter, customerId: customerId, atMilliseconds: atMilliseconds) { $0 }
    }

    /// `checkEntitlement` answering with `answer(check)`, computed on the writer (see `change(_:answer:)`).
    public func checkEntitlement<Value: Sendable>(tenantId: String, meter: MeterReference, customerId: String, atMilliseconds: Int64?,
                                                  answer: @escaping (EntitlementCheck) -> Value) async throws(EngineError) -> Value {
        let instant = atMilliseconds ?? options.clock()
        // From the writer's published view when it covers the check, without queueing.
        if let answered = try checkFromView(tenantId: tenantId, meter: meter, customerId: customerId, atMilliseconds: instant, answer: answer) {
            return answered
        }
        // Else from the applied state at once, not behind the group commits queued with it,
        // publishing the customer into the view for the next checks.
        let view = checkView
        let publishes = options.entitlementCheckView && options.replicatedLog == nil
        return try await readApplied { machine throws(MeterError) in
            let check = try machine.checkEntitlement(tenantId: tenantId, meter: meter, customerId: customerId, atMilliseconds: instant)
            if publishes { machine.publishCheck(into: view, tenantId: tenantId, meter: meter, customerId: customerId) }
            return answer(check)
        }
    }

    /// The check answered from `checkView` (see `EntitlementCheckView`), nil when the view does
    /// not cover it. Synchronous, so that no `ExactDecimal` lives in an async frame. Not in
    /// cluster mode, where the replicated apply path does not publish the view.
    public func checkFromView<Value>(tenantId: String, meter: MeterReference, customerId: String, atMilliseconds instant: Int64,
                                     answer: (EntitlementCheck) -> Value) throws(EngineError) -> Value? {
        guard options.entitlementCheckView, options.replicatedLog == nil,
              let result = checkView.check(tenantId: tenantId, meter: meter, customerId: customerId, atMilliseconds: instant) else { return nil }
        switch result {
        case .success(let check): return answer(check)
        case .failure(let error): throw .rejected(error)
        }
    }

    /// The check answered on the writer from the applied state, never from the view (tests
    /// compare the two).
    public func checkEntitlementOnWriter(tenantId: String, meter: MeterReference, customerId: String,
                                         atMilliseconds: Int64) async throws(EngineError) -> EntitlementCheck {
        try await readApplied { machine throws(MeterError) in
            try machine.checkEntitlement(tenantId: tenantId, meter: meter, customerId: customerId, atMilliseconds: atMilliseconds)
        }
    }

    /// The tenant's notifications numbered above `afterNumber` (at most `limit`), waiting up to
    /// `waitMilliseconds` for one when there is none yet (a long poll), with the newest number
    /// of the whole server, which the caller may resume from when none matched.
    public func notifications(tenantId: String, afterNumber: UInt64, limit: Int,
                              waitMilliseconds: Int64 = 0) async throws(EngineError) -> (notifications: [ThresholdNotification], lastNumber: UInt64) {
        try await notificationPage(tenantId: tenantId, afterNumber: afterNumber, limit: limit, waitMilliseconds: waitMilliseconds) { ($0, $1) }
    }

    /// `notifications` answering with `answer(notifications, lastNumber)`, computed on the writer
    /// (see `change(_:answer:)`).
    public func notificationPage<Value: Sendable>(
        tenantId: String?, afterNumber: UInt64, limit: Int, waitMilliseconds: Int64,
        answer: @escaping ([ThresholdNotification], UInt64) -> Value
    ) async throws(EngineError) -> Value {
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Swift.max(0, waitMilliseconds)))
        var after = afterNumber
        var waited = true
        while true {
            let cursor = after
            // A cancelled caller, or one that found no room to wait, gets what there is now.
            let cancelled = Task.isCancelled || !waited
            let (page, last) = try await read { machine -> (Value?, UInt64) in
                let found = machine.notifications(tenantId: tenantId, afterNumber: cursor, limit: limit)
                let last = machine.lastNotificationNumber
                let done = !found.isEmpty || cancelled || ContinuousClock.now >= deadline
                return (done ? answer(found, Swift.max(last, afterNumber)) : nil, last)
            }
            if let page { return page }
            // Numbers up to `last` hold nothing for this tenant: wait for a newer one.
            after = Swift.max(after, last)
            waited = await notificationSignal.wait(after: after, until: deadline)
        }
    }
}

/// An entitlement, grant or threshold-rule change to submit with `MeterEngine.change(_:)`:
/// validates against the state on the writer and makes the record to write.
///
/// Built by synchronous factories rather than passed as parameters of async engine methods:
/// with Swift 6.3 on Linux, an async method taking an `ExactDecimal` (Int128-backed) parameter
/// and capturing it in the escaping closure crashed on resumption (a jump to address 0 in
/// swift_job_run, reproduced in a debug build of the engine tests), while the same closure built
/// outside an async parameter list works.
public struct EntitlementCommand: @unchecked Sendable {
    let make: (MeterStateMachine, Int64) throws -> StateRecord

    /// Sets (creates or replaces) the entitlement of a meter for a customer, or the tenant-wide
    /// default when `customerId` is nil.
    public static func setEntitlement(tenantId: String, meter: MeterReference, customerId: String?, limit: ExactDecimal,
                               enforcement: EntitlementEnforcement, actor: AuditActor) -> EntitlementCommand {
        EntitlementCommand { machine, now in
            let definition = EntitlementDefinition(tenantId: tenantId, meterId: try machine.meter(tenantId: tenantId, meter).id,
                                                   customerId: customerId, limit: limit, enforcement: enforcement)
            try machine.validateEntitlement(definition)
            return .entitlementSet(definition, actor: actor, atMilliseconds: now)
        }
    }

    /// Removes the entitlement of a meter for a customer (nil: the tenant-wide default).
    public static func removeEntitlement(tenantId: String, meter: MeterReference, customerId: String?, actor: AuditActor) -> EntitlementCommand {
        EntitlementCommand { machine, now in
            let meterId = try machine.meter(tenantId: tenantId, meter).id
            try machine.validateEntitlementRemoval(tenantId: tenantId, meterId: meterId, customerId: customerId)
            return .entitlementRemoved(tenantId: tenantId, meterId: meterId, customerId: customerId, actor: actor, atMilliseconds: now)
        }
    }

    /// Adds a grant; `effectiveFromMilliseconds` nil means from now.
    public static func addGrant(tenantId: String, meter: MeterReference, customerId: String, amount: ExactDecimal,
                         effectiveFromMilliseconds: Int64?, expiresAtMilliseconds: Int64?, actor: AuditActor) -> EntitlementCommand {
        EntitlementCommand { machine, now in
            let definition = GrantDefinition(tenantId: tenantId, meterId: try machine.meter(tenantId: tenantId, meter).id, customerId: customerId,
                                             amount: amount, effectiveFromMilliseconds: effectiveFromMilliseconds ?? now,
                                             expiresAtMilliseconds: expiresAtMilliseconds)
            try machine.validateGrant(definition)
            return .grantAdded(definition, actor: actor, atMilliseconds: now)
        }
    }

    public static func removeGrant(tenantId: String, grantId: String, actor: AuditActor) -> EntitlementCommand {
        EntitlementCommand { machine, now in
            try machine.validateGrantRemoval(tenantId: tenantId, grantId: grantId)
            return .grantRemoved(tenantId: tenantId, grantId: grantId, actor: actor, atMilliseconds: now)
        }
    }

    /// Adds a threshold rule on a meter, for one customer or (nil) all of the tenant's.
    public static func addThresholdRule(tenantId: String, meter: MeterReference, customerId: String?, level: ThresholdLevel,
                                 actor: AuditActor) -> EntitlementCommand {
        EntitlementCommand { machine, now in
            let definition = ThresholdRuleDefinition(tenantId: tenantId, meterId: try machine.meter(tenantId: tenantId, meter).id,
                                                     customerId: customerId, level: level)
            try machine.validateThresholdRule(definition)
            return .thresholdRuleAdded(definition, actor: actor, atMilliseconds: now)
        }
    }

    public static func removeThresholdRule(tenantId: String, ruleId: String, actor: AuditActor) -> EntitlementCommand {
        EntitlementCommand { machine, now in
            try machine.validateThresholdRuleRemoval(tenantId: tenantId, ruleId: ruleId)
            return .thresholdRuleRemoved(tenantId: tenantId, ruleId: ruleId, actor: actor, atMilliseconds: now)
        }
    }
}

