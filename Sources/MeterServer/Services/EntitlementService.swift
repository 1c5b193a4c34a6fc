import MeterCore
import MeterEngine
import MeterProto
import MeterWire
import MeterWireServer
import SwiftProtobuf

/// Entitlements, grants and threshold rules (admin), CheckEntitlement and the ListNotifications
/// long poll (read role too). Changes are written to the log and answered once durable.
///
/// Requests are parsed into an `EntitlementCommand` and replies built from the state on the
/// engine's writer, in synchronous code: no `ExactDecimal` is held across an `await` here (see
/// `EntitlementCommand` for the Swift 6.3 crash this avoids).
struct EntitlementService {
    let engine: MeterEngine
    /// The webhook dispatcher, when meterd runs one (GetWebhookStatus).
    var webhooks: WebhookStatusSource? = nil
    /// Partitioned cluster mode: a check is answered by the customer's partition (here or on
    /// its owner), notifications by every partition (`ClusterAccess`); changes and lists by
    /// `engine`, the meta engine, like meters.
    var cluster: ClusterAccess? = nil

    static let notificationLimitDefault = 100
    static let notificationLimitMaximum = 1000
    static let notificationWaitMaximumMilliseconds: UInt32 = 30_000

    private static func customer(_ text: String) -> String? { text.isEmpty ? nil : text }

    func register(with router: inout Router) {
        let engine = engine
        Self.registerChange(.setEntitlement, Meterd_V1_SetEntitlementRequest.self, engine: engine, on: &router, command: Self.setCommand) { change in
            var response = Meterd_V1_SetEntitlementResponse()
            if let entitlement = change.entitlement { response.entitlement = ProtoConversions.proto(entitlement) }
            return response
        }
        Self.registerList(.listEntitlements, Meterd_V1_ListEntitlementsRequest.self, engine: engine, on: &router,
                          meter: { $0.hasMeter ? $0.meter : nil }) { machine, tenantId, meterId in
            var response = Meterd_V1_ListEntitlementsResponse()
            response.entitlements = machine.entitlements(tenantId: tenantId, meterId: meterId).map(ProtoConversions.proto)
            response.grants = machine.grants(tenantId: tenantId, meterId: meterId).map(ProtoConversions.proto)
            return response
        }
        Self.registerChange(.removeEntitlement, Meterd_V1_RemoveEntitlementRequest.self, engine: engine, on: &router, command: { request, context throws(RPCFailure) in
            .removeEntitlement(tenantId: context.tenantId, meter: try ProtoConversions.reference(request.meter), customerId: Self.customer(request.customerID),
                               actor: context.actor ?? .bootstrap)
        }) { change in
            var response = Meterd_V1_RemoveEntitlementResponse()
            if let entitlement = change.entitlement { response.entitlement = ProtoConversions.proto(entitlement) }
            return response
        }
        Self.registerChange(.addGrant, Meterd_V1_AddGrantRequest.self, engine: engine, on: &router, command: Self.grantCommand) { change in
            var response = Meterd_V1_AddGrantResponse()
            if let grant = change.grant { response.grant = ProtoConversions.proto(grant) }
            return response
        }
        Self.registerChange(.removeGrant, Meterd_V1_RemoveGrantRequest.self, engine: engine, on: &router, command: { request, context in
            .removeGrant(tenantId: context.tenantId, grantId: request.id, actor: context.actor ?? .bootstrap)
        }) { change in
            var response = Meterd_V1_RemoveGrantResponse()
            if let grant = change.grant { response.grant = ProtoConversions.proto(grant) }
            return response
        }
        let cluster = cluster
        router.register(.checkEntitlement, unary(Meterd_V1_CheckEntitlementRequest.self) { request, context throws(RPCFailure) in
            let meter = try ProtoConversions.reference(request.meter)
            if let cluster {
                return try await cluster.checkEntitlement(tenantId: context.tenantId, meter: meter, customerId: request.customerID,
                                                          atMilliseconds: request.atMs == 0 ? nil : request.atMs,
                                                          forwarded: context.principal?.forwarded ?? false, answer: ProtoConversions.proto)
            }
            return try await engineCall { () async throws(EngineError) in
                try await engine.checkEntitlement(tenantId: context.tenantId, meter: meter, customerId: request.customerID,
                                                  atMilliseconds: request.atMs == 0 ? nil : request.atMs, answer: ProtoConversions.proto)
            }
        })
        Self.registerChange(.addThresholdRule, Meterd_V1_AddThresholdRuleRequest.self, engine: engine, on: &router, command: Self.ruleCommand) { change in
            var response = Meterd_V1_AddThresholdRuleResponse()
            if let rule = change.thresholdRule { response.rule = ProtoConversions.proto(rule) }
            return response
        }
        Self.registerList(.listThresholdRules, Meterd_V1_ListThresholdRulesRequest.self, engine: engine, on: &router,
                          meter: { $0.hasMeter ? $0.meter : nil }) { machine, tenantId, meterId in
            var response = Meterd_V1_ListThresholdRulesResponse()
            response.rules = machine.thresholdRules(tenantId: tenantId, meterId: meterId).map(ProtoConversions.proto)
            return response
        }
        Self.registerChange(.removeThresholdRule, Meterd_V1_RemoveThresholdRuleRequest.self, engine: engine, on: &router, command: { request, context in
            .removeThresholdRule(tenantId: context.tenantId, ruleId: request.id, actor: context.actor ?? .bootstrap)
        }) { change in
            var response = Meterd_V1_RemoveThresholdRuleResponse()
            if let rule = change.thresholdRule { response.rule = ProtoConversions.proto(rule) }
            return response
        }
        let webhooks = webhooks
        router.register(.getWebhookStatus, unary(Meterd_V1_GetWebhookStatusRequest.self) { _, _ throws(RPCFailure) in
            try await engineCall { () async throws(EngineError) in
                let last = try await engine.read { machine in machine.lastNotificationNumber }
                return Self.webhookStatus(webhooks?.current, lastNotificationNumber: last)
            }
        })
        router.register(.listNotifications, unary(Meterd_V1_ListNotificationsRequest.self) { request, context throws(RPCFailure) in
            let limit = request.limit == 0 ? Self.notificationLimitDefault : Swift.min(Int(request.limit), Self.notificationLimitMaximum)
            if let cluster {
                return try await cluster.notifications(tenantId: context.tenantId, afterNumber: request.afterNumber, limit: limit,
                                                       waitMilliseconds: request.waitMs, only: request.partitions,
                                                       forwarded: context.principal?.forwarded ?? false)
            }
            guard request.partitions.isEmpty else {
                throw RPCFailure(.invalidArgument, "partitions is for meterd nodes in cluster mode forwarding a listing; leave it empty")
            }
            let wait = Int64(Swift.min(request.waitMs, Self.notificationWaitMaximumMilliseconds))
            return try await engineCall { () async throws(EngineError) in
                let page = try await engine.notificationPage(tenantId: context.tenantId, afterNumber: request.afterNumber, limit: limit,
                                                             waitMilliseconds: wait) { found, last in
                    var response = Meterd_V1_ListNotificationsResponse()
                    response.notifications = found.map(ProtoConversions.proto)
                    response.lastNumber = found.last?.number ?? last
                    return response
                }
                return page
            }
        })
    }

    /// Registers a method that changes entitlements: `command` parses the request (synchronous
    /// code, so no `ExactDecimal` is held across an `await`), the engine writes the change to
    /// the log, and `answer` builds the response from it on the writer once it is durable.
    private static func registerChange<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: MethodID, _ request: Request.Type, engine: MeterEngine, on router: inout Router,
        command: @escaping @Sendable (Request, RequestContext) throws(RPCFailure) -> EntitlementCommand,
        answer: @escaping @Sendable (EntitlementChange) -> Response
    ) {
        router.register(method, unary(Request.self) { request, context throws(RPCFailure) in
            let command = try command(request, context)
            return try await engineCall { () async throws(EngineError) in try await engine.change(command, answer: answer) }
        })
    }

    /// Registers a list of the tenant's items, of one meter when the request names one
    /// (`meter`); `list` reads them on the writer with that meter's id (nil: every meter).
    private static func registerList<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: MethodID, _ request: Request.Type, engine: MeterEngine, on router: inout Router,
        meter: @escaping @Sendable (Request) -> Meterd_V1_MeterReference?,
        list: @escaping @Sendable (MeterStateMachine, _ tenantId: String, _ meterId: String?) -> Response
    ) {
        router.register(method, unary(Request.self) { request, context throws(RPCFailure) in
            let reference = try meter(request).map { proto throws(RPCFailure) in try ProtoConversions.reference(proto) }
            let tenantId = context.tenantId
            return try await engineCall { () async throws(EngineError) in
                try await engine.read { machine throws(MeterError) in
                    let meterId = try reference.map { reference throws(MeterError) in try machine.meter(tenantId: tenantId, reference).id }
                    return list(machine, tenantId, meterId)
                }
            }
        })
    }

    static func webhookStatus(_ dispatcher: WebhookDispatcher?, lastNotificationNumber: UInt64) -> Meterd_V1_GetWebhookStatusResponse {
        var response = Meterd_V1_GetWebhookStatusResponse()
        response.lastNotificationNumber = lastNotificationNumber
        guard let dispatcher else { return response }
        let status = dispatcher.status
        response.enabled = true
        response.url = dispatcher.configuration.url.absoluteString
        response.deliveredThrough = status.deliveredThrough
        response.delivered = status.delivered
        response.failedAttempts = status.failedAttempts
        response.deadLettered = status.deadLettered
        response.deadLetters = status.deadLetterDetails.map { detail in
            var letter = Meterd_V1_WebhookDeadLetter()
            letter.number = detail.number
            letter.attempts = UInt32(clamping: detail.attempts)
            letter.lastError = detail.lastError
            return letter
        }
        return response
    }

    private static func setCommand(_ request: Meterd_V1_SetEntitlementRequest, _ context: RequestContext) throws(RPCFailure) -> EntitlementCommand {
        .setEntitlement(tenantId: context.tenantId, meter: try ProtoConversions.reference(request.meter), customerId: customer(request.customerID),
                        limit: try ProtoConversions.decimal(request.limit, field: "limit", code: .invalidEntitlement),
                        enforcement: try ProtoConversions.enforcement(request.enforcement), actor: context.actor ?? .bootstrap)
    }

    private static func grantCommand(_ request: Meterd_V1_AddGrantRequest, _ context: RequestContext) throws(RPCFailure) -> EntitlementCommand {
        .addGrant(tenantId: context.tenantId, meter: try ProtoConversions.reference(request.meter), customerId: request.customerID,
                  amount: try ProtoConversions.decimal(request.amount, field: "amount", code: .invalidGrant),
                  effectiveFromMilliseconds: request.effectiveFromMs == 0 ? nil : request.effectiveFromMs,
                  expiresAtMilliseconds: request.expiresAtMs == 0 ? nil : request.expiresAtMs, actor: context.actor ?? .bootstrap)
    }

    private static func ruleCommand(_ request: Meterd_V1_AddThresholdRuleRequest, _ context: RequestContext) throws(RPCFailure) -> EntitlementCommand {
        let level: ThresholdLevel
        switch request.level {
        case .value(let text): level = .absolute(try ProtoConversions.decimal(text, field: "value", code: .invalidThresholdRule))
        case .percent(let text): level = .percentOfEntitlement(try ProtoConversions.decimal(text, field: "percent", code: .invalidThresholdRule))
        case nil: throw RPCFailure(.invalidArgument, "give the threshold as a value or a percent", reason: RejectionCode.invalidThresholdRule.name)
        }
        return .addThresholdRule(tenantId: context.tenantId, meter: try ProtoConversions.reference(request.meter),
                                 customerId: customer(request.customerID), level: level, actor: context.actor ?? .bootstrap)
    }
}
