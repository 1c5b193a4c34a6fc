import MeterCore
import MeterEngine
import MeterProto
import MeterWire
import MeterWireServer

/// QueryUsage (windows over a range) and CurrentUsage (billing period or running total now).
struct QueryService {
    let engine: MeterEngine

    func register(with router: inout Router) {
        let engine = engine
        router.register(.queryUsage, unary(Meterd_V1_QueryUsageRequest.self) { request, context throws(RPCFailure) in
            let query = UsageQuery(
                tenantId: context.tenantId, meter: try ProtoConversions.reference(request.meter),
                fromMilliseconds: request.fromMs, toMilliseconds: request.toMs,
                windowSize: try ProtoConversions.windowSize(request.windowSize),
                customerId: request.customerID.isEmpty ? nil : request.customerID,
                groupByCustomer: request.groupByCustomer, groupBy: request.groupBy,
                groupFilters: request.groupFilters.map { MeterFilter(key: $0.key, values: $0.values) })
            return try await engineCall { () async throws(EngineError) in
                let result = try await engine.usage(query)
                var response = Meterd_V1_QueryUsageResponse()
                response.meter = ProtoConversions.proto(result.meter)
                response.rows = result.rows.map(ProtoConversions.proto)
                return response
            }
        })
        router.register(.currentUsage, unary(Meterd_V1_CurrentUsageRequest.self) { request, context throws(RPCFailure) in
            let reference = try ProtoConversions.reference(request.meter)
            let tenantId = context.tenantId
            let customer = request.customerID.isEmpty ? nil : request.customerID
            let at = request.atMs == 0 ? engine.options.clock() : request.atMs
            return try await engineCall { () async throws(EngineError) in
                let (meter, row) = try await engine.read { machine throws(MeterError) in
                    (try machine.meter(tenantId: tenantId, reference),
                     try machine.currentUsage(tenantId: tenantId, meter: reference, customerId: customer, atMilliseconds: at))
                }
                var response = Meterd_V1_CurrentUsageResponse()
                response.meter = ProtoConversions.proto(meter)
                response.row = ProtoConversions.proto(row)
                return response
            }
        })
    }
}
