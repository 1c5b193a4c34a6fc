import Foundation
import MeterCore
import MeterEngine
import MeterProto
import MeterWire
import MeterWireServer

/// Partitioned cluster mode's routing of ingest and usage (docs/cluster.md, "Forwarding",
/// "Queries over every customer"), shared by the binary protocol's services and the HTTP
/// listener, so that both reach a customer's partition the same way: its engine on this node,
/// or its owner over a forwarding connection. A usage query over every customer is scattered to
/// every partition (engines here directly, each other owner once for the partitions it holds)
/// and the answers are merged exactly (`UsageRowMerge`).
///
/// `forwarded` marks a request that another node forwarded here: it is answered from this
/// node's engines or refused, never forwarded again.
public final class ClusterAccess: Sendable {
    /// A usage answer: the meter read and the rows (as `UsageResult`, which has no public initializer).
    public typealias Usage = (meter: Meter, rows: [UsageRow])

    /// The node's meta engine: meters and keys (the meter of every answer comes from it).
    let engine: MeterEngine
    /// The engines of the partitions this node holds, and where the others are.
    public let partitions: any PartitionedEngines
    /// The cluster's partition count (partitions 0 ..< partitionCount).
    public let partitionCount: Int
    let forwarder: PartitionForwarder

    /// - Parameters:
    ///   - nodeName: names this node in its forwarding connections' client name.
    ///   - credential: the cluster credential forwarding connections present (empty: none,
    ///     enough for owners on Unix sockets of the same user; see `PartitionForwarder`).
    ///   - tls: TLS for forwarding to owners on TCP.
    public init(engine: MeterEngine, partitions: any PartitionedEngines, partitionCount: Int, nodeName: String, credential: String = "",
                tls: ForwardingTLS? = nil) {
        self.engine = engine
        self.partitions = partitions
        self.partitionCount = partitionCount
        forwarder = PartitionForwarder(nodeName: nodeName, credential: credential, tls: tls)
    }

    /// Closes the forwarding connections.
    public func close() async { await forwarder.close() }

    // MARK: Ingest

    /// `PartitionedIngest` with this node's partitions and forwarder; `completion` runs on any thread.
    func ingest(_ decoded: [Result<UsageEvent, MeterError>], tenantId: String, forwarded: Bool, includeEffects: Bool = false,
                completion: @escaping @Sendable (Result<PartitionedIngest.Outcome, RPCFailure>) -> Void) {
        PartitionedIngest.ingest(decoded, tenantId: tenantId, partitions: partitions, forwarder: forwarder, mayForward: !forwarded,
                                 includeEffects: includeEffects, completion: completion)
    }

    /// Ingest for a listener that answers with `EventResult`s (the HTTP API): each event through
    /// its partition, results in request order.
    public func ingest(_ decoded: [Result<UsageEvent, MeterError>], tenantId: String) async -> Result<[EventResult], RPCFailure> {
        await withCheckedContinuation { continuation in
            ingest(decoded, tenantId: tenantId, forwarded: false) { outcome in
                continuation.resume(returning: outcome.map { $0.results.map(Self.eventResult) })
            }
        }
    }

    /// `ingest` asking for each event's entitlement effect (HTTP `?entitlement_effects=true`):
    /// decided where the event's partition is applied, as on the binary protocol.
    public func ingestWithEffects(_ decoded: [Result<UsageEvent, MeterError>], tenantId: String) async
        -> Result<[(result: EventResult, effect: Meterd_V1_EntitlementEffect?)], RPCFailure> {
        await withCheckedContinuation { continuation in
            ingest(decoded, tenantId: tenantId, forwarded: false, includeEffects: true) { outcome in
                continuation.resume(returning: outcome.map { $0.results.map { (Self.eventResult($0), $0.hasEntitlement ? $0.entitlement : nil) } })
            }
        }
    }

    /// A wire result read back (the HTTP API writes `EventResult`s).
    static func eventResult(_ proto: Meterd_V1_EventResult) -> EventResult {
        switch proto.status {
        case .accepted:
            switch proto.outcome {
            case .noActiveMeter: return .accepted(.noActiveMeter)
            case .filteredOut: return .accepted(.filteredOut)
            case .missingValue: return .accepted(.missingValue)
            case .overflow: return .accepted(.overflow)
            default: return .accepted(.counted)
            }
        case .duplicate:
            return .duplicate
        default:
            let code = RejectionCode.all.first { $0.name == proto.reason } ?? .invalidProperty
            return .rejected(MeterError(code, proto.message))
        }
    }

    // MARK: Usage

    /// `query` answered as a single node holding every partition answers it: one customer's by
    /// its partition (here or forwarded), every customer's by every partition, merged. `only`
    /// (forwarded requests over every customer): just these partitions, which must be here.
    public func usage(_ query: UsageQuery, only: [UInt32] = [], forwarded: Bool = false) async throws(RPCFailure) -> Usage {
        var meter = try await self.meter(tenantId: query.tenantId, query.meter)
        var resolved = query
        resolved.meter = .id(meter.id)
        let query = resolved
        let plan = try scatterPlan(customerId: query.customerId, tenantId: query.tenantId, only: only, forwarded: forwarded)
        if query.customerId == nil, let refusal = UsageRowMerge.refusal(meter.definition.aggregation, groupsByCustomer: query.groupByCustomer) { throw refusal }
        let forwarder = self.forwarder
        let request = Self.request(query)
        let parts = await withTaskGroup(of: Result<Part, RPCFailure>.self) { group in
            for engine in plan.local {
                group.addTask {
                    do throws(EngineError) {
                        let result = try await engine.usage(query)
                        return .success(Part(rows: result.rows, counters: result.meter.counters))
                    } catch {
                        return .failure(RPCFailure(error))
                    }
                }
            }
            for owner in plan.remote {
                group.addTask {
                    do throws(RPCFailure) {
                        var request = request
                        // One customer's query names no partitions (its owner finds the one).
                        if query.customerId == nil { request.partitions = owner.partitions }
                        let response = try await forwarder.call(.queryUsage, request, as: Meterd_V1_QueryUsageResponse.self,
                                                                owner: owner.name, address: owner.address, tenantId: query.tenantId)
                        return .success(Part(rows: try UsageRowMerge.rows(response.rows), counters: Self.counters(response.meter.counters)))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            var parts: [Result<Part, RPCFailure>] = []
            for await part in group { parts.append(part) }
            return parts
        }
        let answered = try parts.map { (part) throws(RPCFailure) in try part.get() }
        meter.counters = Self.sum(answered.map(\.counters))
        return (meter, try UsageRowMerge.merge(answered.map(\.rows), aggregation: meter.definition.aggregation))
    }

    /// CurrentUsage: one customer's from its partition, every customer's merged from every
    /// partition, all at one instant (`atMilliseconds`, else now by this node's system clock: the meta
    /// engine's clock is the stream time of the last meta record it applied).
    public func currentUsage(tenantId: String, meter reference: MeterReference, customerId: String?, atMilliseconds: Int64?,
                             only: [UInt32] = [], forwarded: Bool = false) async throws(RPCFailure) -> (meter: Meter, row: UsageRow) {
        var meter = try await self.meter(tenantId: tenantId, reference)
        let at = atMilliseconds ?? EngineOptions.systemClock()
        let plan = try scatterPlan(customerId: customerId, tenantId: tenantId, only: only, forwarded: forwarded)
        if customerId == nil, let refusal = UsageRowMerge.refusal(meter.definition.aggregation, groupsByCustomer: false) { throw refusal }
        let forwarder = self.forwarder
        let id = meter.id
        var request = Meterd_V1_CurrentUsageRequest()
        request.meter.id = id
        request.customerID = customerId ?? ""
        request.atMs = at
        let base = request
        let parts = await withTaskGroup(of: Result<Part, RPCFailure>.self) { group in
            for engine in plan.local {
                group.addTask {
                    do throws(EngineError) {
                        let (counters, row) = try await engine.read { machine throws(MeterError) in
                            (try machine.meter(tenantId: tenantId, .id(id)).counters,
                             try machine.currentUsage(tenantId: tenantId, meter: .id(id), customerId: customerId, atMilliseconds: at))
                        }
                        return .success(Part(rows: [row], counters: counters))
                    } catch {
                        return .failure(RPCFailure(error))
                    }
                }
            }
            for owner in plan.remote {
                group.addTask {
                    do throws(RPCFailure) {
                        var request = base
                        if customerId == nil { request.partitions = owner.partitions }
                        let response = try await forwarder.call(.currentUsage, request, as: Meterd_V1_CurrentUsageResponse.self,
                                                                owner: owner.name, address: owner.address, tenantId: tenantId)
                        return .success(Part(rows: try UsageRowMerge.rows([response.row]), counters: Self.counters(response.meter.counters)))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            var parts: [Result<Part, RPCFailure>] = []
            for await part in group { parts.append(part) }
            return parts
        }
        let answered = try parts.map { (part) throws(RPCFailure) in try part.get() }
        meter.counters = Self.sum(answered.map(\.counters))
        let rows = try UsageRowMerge.merge(answered.map(\.rows), aggregation: meter.definition.aggregation)
        guard rows.count == 1 else { throw RPCFailure(.internalError, "the partitions answered \(rows.count) rows for current usage; retry") }
        return (meter, rows[0])
    }

    /// One partition's (or one owner's) answer.
    private struct Part: Sendable {
        var rows: [UsageRow]
        var counters: MeterCounters
    }

    /// The partitions a query reads and where: its customer's partition, or every partition
    /// (`only` when given by a forwarding node).
    struct Plan {
        var local: [MeterEngine] = []
        /// The partitions of `local`, in the same order.
        var localPartitions: [Int] = []
        var remote: [(name: String, address: String, partitions: [UInt32])] = []
    }

    func scatterPlan(customerId: String?, tenantId: String, only: [UInt32], forwarded: Bool) throws(RPCFailure) -> Plan {
        let wanted: [Int]
        if let customerId {
            guard only.isEmpty else { throw RPCFailure(.invalidArgument, "partitions is only for queries over every customer") }
            wanted = [partitions.partition(tenantId: tenantId, customerId: customerId)]
        } else if only.isEmpty {
            guard !forwarded else { throw RPCFailure(.invalidArgument, "a forwarded query over every customer names its partitions") }
            wanted = Array(0..<partitionCount)
        } else {
            guard forwarded else {
                throw RPCFailure(.invalidArgument, "partitions is for meterd nodes forwarding a query over every customer; clients leave it empty")
            }
            guard Set(only).count == only.count, only.allSatisfy({ Int($0) < partitionCount }) else {
                throw RPCFailure(.invalidArgument, "partitions must be distinct partitions of 0..<\(partitionCount), got \(only)")
            }
            wanted = only.map(Int.init)
        }
        var plan = Plan()
        var remote: [String: Int] = [:]
        for partition in wanted {
            let route = partitions.route(partition: partition)
            switch route {
            case .local(let engine):
                plan.local.append(engine)
                plan.localPartitions.append(partition)
            case .remote(let owner, let address) where !forwarded:
                if let index = remote[address] {
                    plan.remote[index].partitions.append(UInt32(partition))
                } else {
                    remote[address] = plan.remote.count
                    plan.remote.append((owner, address, [UInt32(partition)]))
                }
            default:
                throw RPCFailure(route.refusal(partition: partition)!)
            }
        }
        return plan
    }

    private func meter(tenantId: String, _ reference: MeterReference) async throws(RPCFailure) -> Meter {
        let engine = engine
        return try await engineCall { () async throws(EngineError) in try await engine.meter(tenantId: tenantId, reference) }
    }

    private static func counters(_ proto: Meterd_V1_MeterCounters) -> MeterCounters {
        var counters = MeterCounters()
        counters.counted = proto.counted
        counters.filteredOut = proto.filteredOut
        counters.missingValue = proto.missingValue
        counters.overflowed = proto.overflowed
        return counters
    }

    private static func sum(_ all: [MeterCounters]) -> MeterCounters {
        var total = MeterCounters()
        for counters in all {
            total.counted &+= counters.counted
            total.filteredOut &+= counters.filteredOut
            total.missingValue &+= counters.missingValue
            total.overflowed &+= counters.overflowed
        }
        return total
    }

    /// The wire request of `query`, for its owner.
    static func request(_ query: UsageQuery) -> Meterd_V1_QueryUsageRequest {
        var request = Meterd_V1_QueryUsageRequest()
        switch query.meter {
        case .id(let id): request.meter.id = id
        case .eventName(let name): request.meter.eventName = name
        }
        request.fromMs = query.fromMilliseconds
        request.toMs = query.toMilliseconds
        request.windowSize = ProtoConversions.proto(query.windowSize)
        request.customerID = query.customerId ?? ""
        request.groupByCustomer = query.groupByCustomer
        request.groupBy = query.groupBy
        request.groupFilters = query.groupFilters.map { filter in
            var proto = Meterd_V1_MeterFilter()
            proto.key = filter.key
            proto.values = filter.values
            return proto
        }
        return request
    }
}
