import MeterCore
import MeterEngine
import MeterProto
import MeterWire
import MeterWireServer
import SwiftProtobuf

/// QueryUsage (windows over a range) and CurrentUsage (billing period or running total now).
struct QueryService {
    let engine: MeterEngine
    /// Partitioned cluster mode: a customer's usage is answered by its partition's engine.
    var partitions: (any PartitionedEngines)?
    /// Sends a customer's query to its partition's owner when this node does not hold it.
    var forwarder: PartitionForwarder?

    func register(with router: inout Router) {
        let fallback = engine
        let partitions = partitions
        let forwarder = forwarder
        router.register(.queryUsage, unary(Meterd_V1_QueryUsageRequest.self) { request, context throws(RPCFailure) in
            let query = UsageQuery(
                tenantId: context.tenantId, meter: try ProtoConversions.reference(request.meter),
                fromMilliseconds: request.fromMs, toMilliseconds: request.toMs,
                windowSize: try ProtoConversions.windowSize(request.windowSize),
                customerId: request.customerID.isEmpty ? nil : request.customerID,
                groupByCustomer: request.groupByCustomer, groupBy: request.groupBy,
                groupFilters: request.groupFilters.map { MeterFilter(key: $0.key, values: $0.values) })
            return try await Self.answer(.queryUsage, request, as: Meterd_V1_QueryUsageResponse.self, fallback, partitions, forwarder,
                                         context: context, customerId: query.customerId) { engine throws(RPCFailure) in
                try await engineCall { () async throws(EngineError) in
                    let result = try await engine.usage(query)
                    var response = Meterd_V1_QueryUsageResponse()
                    response.meter = ProtoConversions.proto(result.meter)
                    response.rows = result.rows.map(ProtoConversions.proto)
                    return response
                }
            }
        })
        router.register(.currentUsage, unary(Meterd_V1_CurrentUsageRequest.self) { request, context throws(RPCFailure) in
            let reference = try ProtoConversions.reference(request.meter)
            let tenantId = context.tenantId
            let customer = request.customerID.isEmpty ? nil : request.customerID
            return try await Self.answer(.currentUsage, request, as: Meterd_V1_CurrentUsageResponse.self, fallback, partitions, forwarder,
                                         context: context, customerId: customer) { engine throws(RPCFailure) in
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
            }
        })
    }

    /// Answers with `local` on the engine that holds the customer's usage (see `route`), or
    /// forwards `request` to the partition's owner and returns its answer.
    static func answer<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: MethodID, _ request: Request, as: Response.Type, _ engine: MeterEngine, _ partitions: (any PartitionedEngines)?,
        _ forwarder: PartitionForwarder?, context: RequestContext, customerId: String?,
        local: (MeterEngine) async throws(RPCFailure) -> Response
    ) async throws(RPCFailure) -> Response {
        switch try route(engine, partitions, forwarder, context: context, customerId: customerId) {
        case .local(let holder): return try await local(holder)
        case .remote(let owner, let address):
            return try await forwarder!.call(method, request, as: Response.self, owner: owner, address: address, tenantId: context.tenantId)
        }
    }

    enum Target {
        case local(MeterEngine)
        case remote(owner: String, address: String)
    }

    /// Where a query for `customerId` is answered: the node's engine, or in partitioned cluster
    /// mode the customer's partition's engine here or its owner (a request that was forwarded
    /// here is not forwarded again; a query over every customer is refused there).
    static func route(_ engine: MeterEngine, _ partitions: (any PartitionedEngines)?, _ forwarder: PartitionForwarder?,
                      context: RequestContext, customerId: String?) throws(RPCFailure) -> Target {
        guard let partitions else { return .local(engine) }
        guard let customerId else {
            throw RPCFailure(.invalidArgument, "in partitioned cluster mode a usage query names a customer (its partition answers); "
                             + "queries over every customer are not supported yet (docs/cluster.md)")
        }
        let partition = partitions.partition(tenantId: context.tenantId, customerId: customerId)
        let route = partitions.route(partition: partition)
        switch route {
        case .local(let engine): return .local(engine)
        case .remote(let owner, let address) where forwarder != nil && !(context.principal?.forwarded ?? false):
            return .remote(owner: owner, address: address)
        default: throw RPCFailure(route.refusal(partition: partition)!)
        }
    }
}
