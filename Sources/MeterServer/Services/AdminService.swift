import MeterCore
import MeterEngine
import MeterProto
import MeterWire
import MeterWireServer

/// CreateMeter, GetMeter, ListMeters, UpdateMeter (display name only) and ArchiveMeter.
struct AdminService {
    let engine: MeterEngine
    /// Per-tenant meter quotas, checked before a create is queued.
    let quotas: TenantQuotas

    static let pageSizeDefault = 100
    static let pageSizeMaximum = 1000

    func register(with router: inout Router) {
        let engine = engine
        let quotas = quotas
        router.register(.createMeter, unary(Meterd_V1_CreateMeterRequest.self) { request, context throws(RPCFailure) in
            let definition = try ProtoConversions.definition(request.definition, tenantId: context.tenantId)
            var response = Meterd_V1_CreateMeterResponse()
            response.meter = ProtoConversions.proto(try await engine.createMeter(definition, tenantId: context.tenantId, within: quotas, actor: context.actor))
            return response
        })
        router.register(.getMeter, unary(Meterd_V1_GetMeterRequest.self) { request, context throws(RPCFailure) in
            let reference = try ProtoConversions.reference(request.meter)
            return try await engineCall { () async throws(EngineError) in
                var response = Meterd_V1_GetMeterResponse()
                response.meter = ProtoConversions.proto(try await engine.meter(tenantId: context.tenantId, reference))
                return response
            }
        })
        router.register(.listMeters, unary(Meterd_V1_ListMetersRequest.self) { request, context throws(RPCFailure) in
            let pageSize = request.pageSize == 0 ? Self.pageSizeDefault : Swift.min(Int(request.pageSize), Self.pageSizeMaximum)
            let offset: Int
            if request.pageToken.isEmpty {
                offset = 0
            } else if let parsed = Int(request.pageToken), parsed >= 0 {
                offset = parsed
            } else {
                throw RPCFailure(.invalidArgument, "page_token \"\(request.pageToken.prefix(40))\" was not issued by this server")
            }
            let tenantId = context.tenantId
            let includeArchived = request.includeArchived
            let meters = try await engineCall { () async throws(EngineError) in
                try await engine.read { machine in machine.meters(tenantId: tenantId, includeArchived: includeArchived) }
            }
            var response = Meterd_V1_ListMetersResponse()
            let page = meters.dropFirst(offset).prefix(pageSize)
            response.meters = page.map(ProtoConversions.proto)
            if offset + page.count < meters.count { response.nextPageToken = String(offset + page.count) }
            return response
        })
        router.register(.updateMeter, unary(Meterd_V1_UpdateMeterRequest.self) { request, context throws(RPCFailure) in
            let reference = try ProtoConversions.reference(request.meter)
            let changes = request.immutableChanges
            var immutable: [String] = []
            if !changes.eventName.isEmpty { immutable.append("event name") }
            if !changes.filters.isEmpty { immutable.append("filters") }
            if changes.aggregation != .unspecified || !changes.field.isEmpty || !changes.multiplier.isEmpty { immutable.append("aggregation") }
            if changes.reset != .resetUnspecified || changes.hasAnchor_p { immutable.append("reset") }
            if !changes.groupBy.isEmpty { immutable.append("group-by keys") }
            guard immutable.isEmpty else {
                throw RPCFailure(.failedPrecondition,
                                 "\(immutable.joined(separator: ", ")) cannot be changed after creation (event name, filters, aggregation, reset and group-by are immutable); archive this meter and create a new one, which backfills retained events",
                                 reason: RejectionCode.immutableField.name)
            }
            guard !request.displayName.isEmpty else {
                throw RPCFailure(.invalidArgument, "display_name is the only field that can change; give a new one", reason: RejectionCode.invalidDisplayName.name)
            }
            return try await engineCall { () async throws(EngineError) in
                var response = Meterd_V1_UpdateMeterResponse()
                response.meter = ProtoConversions.proto(try await engine.updateDisplayName(tenantId: context.tenantId, meter: reference, displayName: request.displayName, actor: context.actor))
                return response
            }
        })
        router.register(.archiveMeter, unary(Meterd_V1_ArchiveMeterRequest.self) { request, context throws(RPCFailure) in
            let reference = try ProtoConversions.reference(request.meter)
            return try await engineCall { () async throws(EngineError) in
                var response = Meterd_V1_ArchiveMeterResponse()
                response.meter = ProtoConversions.proto(try await engine.archiveMeter(tenantId: context.tenantId, meter: reference, actor: context.actor))
                return response
            }
        })
    }
}
