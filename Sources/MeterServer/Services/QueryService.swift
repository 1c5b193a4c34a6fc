import MeterCore
import MeterEngine
import MeterProto
import MeterWire
import MeterWireServer

/// QueryUsage (windows over a range) and CurrentUsage (billing period or running total now).
struct QueryService {
    let engine: MeterEngine
    /// Partitioned cluster mode: a customer's usage is answered by its partition's engine.
    var partitions: (any PartitionedEngines)?

    func register(with router: inout Router) {
        let fallback = engine
        let partitions = partitions
        router.register(.queryUsage, unary(Meterd_V1_QueryUsageRequest.self) { request, context throws(RPCFailure) in
            let query = UsageQuery(
                tenantId: context.tenantId, meter: try ProtoConversions.reference(request.meter),
                fromMilliseconds: request.fromMs, toMilliseconds: request.toMs,
                windowSize: try ProtoConversions.windowSize(request.windowSize),
                customerId: request.customerID.isEmpty ? nil : request.customerID,
                groupByCustomer: request.groupByCustomer, groupBy: request.groupBy,
                groupFilters: request.groupFilters.map { MeterFilter(key: $0.key, values: $0.values) })
            let engine = try Self.engine(fallback, partitions, tenantId: context.tenantId, customerId: query.customerId)
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
            let engine = try Self.engine(fallback, partitions, tenantId: tenantId, customerId: customer)
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

    /// The engine that answers for `customerId`: the node's engine, or in partitioned cluster
    /// mode the customer's partition's engine (a query over every customer is refused there).
    static func engine(_ engine: MeterEngine, _ partitions: (any PartitionedEngines)?, tenantId: String, customerId: String?) throws(RPCFailure) -> MeterEngine {
        guard let partitions else { return engine }
        guard let customerId else {
            throw RPCFailure(.invalidArgument, "in partitioned cluster mode a usage query names a customer (its partition answers); "
                             + "queries over every customer are not supported yet (docs/cluster.md)")
        }
        switch partitions.engine(partition: partitions.partition(tenantId: tenantId, customerId: customerId)) {
        case .success(let engine): return engine
        case .failure(let error): throw RPCFailure(error)
        }
    }
}
