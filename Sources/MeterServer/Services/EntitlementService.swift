import MeterCore
import MeterEngine
import MeterProto
import MeterWire
import MeterWireServer

/// Entitlements, grants and threshold rules (admin), CheckEntitlement and the ListNotifications
/// long poll (read role too). Changes are written to the log and answered once durable.
struct EntitlementService {
    let engine: MeterEngine

    static let notificationLimitDefault = 100
    static let notificationLimitMaximum = 1000
    static let notificationWaitMaximumMilliseconds: UInt32 = 30_000

    func register(with router: inout Router) {
        let engine = engine
        router.register(.setEntitlement, unary(Meterd_V1_SetEntitlementRequest.self) { request, context throws(RPCFailure) in
            let meter = try ProtoConversions.reference(request.meter)
            let limit = try ProtoConversions.decimal(request.limit, field: "limit", code: .invalidEntitlement)
            let enforcement = try ProtoConversions.enforcement(request.enforcement)
            return try await engineCall { () async throws(EngineError) in
                var response = Meterd_V1_SetEntitlementResponse()
                response.entitlement = ProtoConversions.proto(try await engine.setEntitlement(
                    tenantId: context.tenantId, meter: meter, customerId: request.customerID.isEmpty ? nil : request.customerID,
                    limit: limit, enforcement: enforcement, actor: context.actor ?? .bootstrap))
                return response
            }
        })
        router.register(.listEntitlements, unary(Meterd_V1_ListEntitlementsRequest.self) { request, context throws(RPCFailure) in
            let meter: MeterReference? = request.hasMeter ? try ProtoConversions.reference(request.meter) : nil
            let tenantId = context.tenantId
            return try await engineCall { () async throws(EngineError) in
                let (entitlements, grants) = try await engine.read { machine throws(MeterError) in
                    let meterId = try meter.map { reference throws(MeterError) in try machine.meter(tenantId: tenantId, reference).id }
                    return (machine.entitlements(tenantId: tenantId, meterId: meterId), machine.grants(tenantId: tenantId, meterId: meterId))
                }
                var response = Meterd_V1_ListEntitlementsResponse()
                response.entitlements = entitlements.map(ProtoConversions.proto)
                response.grants = grants.map(ProtoConversions.proto)
                return response
            }
        })
        router.register(.removeEntitlement, unary(Meterd_V1_RemoveEntitlementRequest.self) { request, context throws(RPCFailure) in
            let meter = try ProtoConversions.reference(request.meter)
            return try await engineCall { () async throws(EngineError) in
                var response = Meterd_V1_RemoveEntitlementResponse()
                response.entitlement = ProtoConversions.proto(try await engine.removeEntitlement(
                    tenantId: context.tenantId, meter: meter, customerId: request.customerID.isEmpty ? nil : request.customerID,
                    actor: context.actor ?? .bootstrap))
                return response
            }
        })
        router.register(.addGrant, unary(Meterd_V1_AddGrantRequest.self) { request, context throws(RPCFailure) in
            let meter = try ProtoConversions.reference(request.meter)
            let amount = try ProtoConversions.decimal(request.amount, field: "amount", code: .invalidGrant)
            return try await engineCall { () async throws(EngineError) in
                var response = Meterd_V1_AddGrantResponse()
                response.grant = ProtoConversions.proto(try await engine.addGrant(
                    tenantId: context.tenantId, meter: meter, customerId: request.customerID, amount: amount,
                    effectiveFromMilliseconds: request.effectiveFromMs == 0 ? nil : request.effectiveFromMs,
                    expiresAtMilliseconds: request.expiresAtMs == 0 ? nil : request.expiresAtMs, actor: context.actor ?? .bootstrap))
                return response
            }
        })
        router.register(.removeGrant, unary(Meterd_V1_RemoveGrantRequest.self) { request, context throws(RPCFailure) in
            try await engineCall { () async throws(EngineError) in
                var response = Meterd_V1_RemoveGrantResponse()
                response.grant = ProtoConversions.proto(try await engine.removeGrant(tenantId: context.tenantId, grantId: request.id, actor: context.actor ?? .bootstrap))
                return response
            }
        })
        router.register(.checkEntitlement, unary(Meterd_V1_CheckEntitlementRequest.self) { request, context throws(RPCFailure) in
            let meter = try ProtoConversions.reference(request.meter)
            return try await engineCall { () async throws(EngineError) in
                ProtoConversions.proto(try await engine.checkEntitlement(
                    tenantId: context.tenantId, meter: meter, customerId: request.customerID,
                    atMilliseconds: request.atMs == 0 ? nil : request.atMs))
            }
        })
        router.register(.addThresholdRule, unary(Meterd_V1_AddThresholdRuleRequest.self) { request, context throws(RPCFailure) in
            let meter = try ProtoConversions.reference(request.meter)
            let level: ThresholdLevel
            switch request.level {
            case .value(let text): level = .absolute(try ProtoConversions.decimal(text, field: "value", code: .invalidThresholdRule))
            case .percent(let text): level = .percentOfEntitlement(try ProtoConversions.decimal(text, field: "percent", code: .invalidThresholdRule))
            case nil: throw RPCFailure(.invalidArgument, "give the threshold as a value or a percent", reason: RejectionCode.invalidThresholdRule.name)
            }
            return try await engineCall { () async throws(EngineError) in
                var response = Meterd_V1_AddThresholdRuleResponse()
                response.rule = ProtoConversions.proto(try await engine.addThresholdRule(
                    tenantId: context.tenantId, meter: meter, customerId: request.customerID.isEmpty ? nil : request.customerID,
                    level: level, actor: context.actor ?? .bootstrap))
                return response
            }
        })
        router.register(.listThresholdRules, unary(Meterd_V1_ListThresholdRulesRequest.self) { request, context throws(RPCFailure) in
            let meter: MeterReference? = request.hasMeter ? try ProtoConversions.reference(request.meter) : nil
            let tenantId = context.tenantId
            return try await engineCall { () async throws(EngineError) in
                let rules = try await engine.read { machine throws(MeterError) in
                    let meterId = try meter.map { reference throws(MeterError) in try machine.meter(tenantId: tenantId, reference).id }
                    return machine.thresholdRules(tenantId: tenantId, meterId: meterId)
                }
                var response = Meterd_V1_ListThresholdRulesResponse()
                response.rules = rules.map(ProtoConversions.proto)
                return response
            }
        })
        router.register(.removeThresholdRule, unary(Meterd_V1_RemoveThresholdRuleRequest.self) { request, context throws(RPCFailure) in
            try await engineCall { () async throws(EngineError) in
                var response = Meterd_V1_RemoveThresholdRuleResponse()
                response.rule = ProtoConversions.proto(try await engine.removeThresholdRule(tenantId: context.tenantId, ruleId: request.id, actor: context.actor ?? .bootstrap))
                return response
            }
        })
        router.register(.listNotifications, unary(Meterd_V1_ListNotificationsRequest.self) { request, context throws(RPCFailure) in
            let limit = request.limit == 0 ? Self.notificationLimitDefault : Swift.min(Int(request.limit), Self.notificationLimitMaximum)
            let wait = Int64(Swift.min(request.waitMs, Self.notificationWaitMaximumMilliseconds))
            return try await engineCall { () async throws(EngineError) in
                let found = try await engine.notifications(tenantId: context.tenantId, afterNumber: request.afterNumber, limit: limit, waitMilliseconds: wait)
                var response = Meterd_V1_ListNotificationsResponse()
                response.notifications = found.notifications.map(ProtoConversions.proto)
                response.lastNumber = found.notifications.last?.number ?? found.lastNumber
                return response
            }
        })
    }
}
