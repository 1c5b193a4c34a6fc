import MeterCore
import MeterEngine
import MeterProto
import MeterWire
import MeterWireServer

/// QueryUsage (windows over a range) and CurrentUsage (billing period or running total now).
struct QueryService {
    let engine: MeterEngine
    /// Partitioned cluster mode: a customer's usage is answered by its partition's engine (here
    /// or on its owner), every customer's by every partition, merged (`ClusterAccess`).
    var cluster: ClusterAccess?

    func register(with router: inout Router) {
        let engine = engine
        let cluster = cluster
        router.register(.queryUsage, unary(Meterd_V1_QueryUsageRequest.self) { request, context throws(RPCFailure) in
            let query = UsageQuery(
                tenantId: context.tenantId, meter: try ProtoConversions.reference(request.meter),
                fromMilliseconds: request.fromMs, toMilliseconds: request.toMs,
                windowSize: try ProtoConversions.windowSize(request.windowSize),
                customerId: request.customerID.isEmpty ? nil : request.customerID,
                groupByCustomer: request.groupByCustomer, groupBy: request.groupBy,
                groupFilters: request.groupFilters.map { MeterFilter(key: $0.key, values: $0.values) })
            if let cluster {
                let result = try await cluster.usage(query, only: request.partitions, forwarded: context.principal?.forwarded ?? false)
                return Self.response(meter: result.meter, rows: result.rows)
            }
            guard request.partitions.isEmpty else { throw Self.partitionsRefusal }
            return try await engineCall { () async throws(EngineError) in
                let result = try await engine.usage(query)
                return Self.response(meter: result.meter, rows: result.rows)
            }
        })
        router.register(.currentUsage, unary(Meterd_V1_CurrentUsageRequest.self) { request, context throws(RPCFailure) in
            let reference = try ProtoConversions.reference(request.meter)
            let tenantId = context.tenantId
            let customer = request.customerID.isEmpty ? nil : request.customerID
            if let cluster {
                let (meter, row) = try await cluster.currentUsage(tenantId: tenantId, meter: reference, customerId: customer,
                                                                  atMilliseconds: request.atMs == 0 ? nil : request.atMs,
                                                                  only: request.partitions, forwarded: context.principal?.forwarded ?? false)
                var response = Meterd_V1_CurrentUsageResponse()
                response.meter = ProtoConversions.proto(meter)
                response.row = ProtoConversions.proto(row)
                return response
            }
            guard request.partitions.isEmpty else { throw Self.partitionsRefusal }
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

    static let partitionsRefusal = RPCFailure(.invalidArgument, "partitions is for meterd nodes in cluster mode forwarding a query over every customer; leave it empty")

    static func response(meter: Meter, rows: [UsageRow]) -> Meterd_V1_QueryUsageResponse {
        var response = Meterd_V1_QueryUsageResponse()
        response.meter = ProtoConversions.proto(meter)
        response.rows = rows.map(ProtoConversions.proto)
        return response
    }
}
