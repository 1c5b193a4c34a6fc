/// The engines of a node in partitioned cluster mode (docs/cluster.md, "Partitions"): each
/// event partition is applied by one engine on the node that owns it. The server asks which
/// partition a customer's events belong to and where it is answered.
public protocol PartitionedEngines: Sendable {
    /// The partition of (tenant, customer), fixed when the cluster was created.
    func partition(tenantId: String, customerId: String) -> Int
    /// Where `partition` is answered now: by an engine here, by its owner elsewhere, or
    /// nowhere for the moment (being rebuilt, no owner): then an UNAVAILABLE error saying so.
    func route(partition: Int) -> PartitionRoute
    /// This node's engine of `partition` once it has applied every record the log held when
    /// called (a read barrier: every write acknowledged before the call is in its state);
    /// UNAVAILABLE when the partition is not answered here.
    func readBarrier(partition: Int) async throws(EngineError) -> MeterEngine
}

extension PartitionedEngines {
    /// Engines that apply nothing behind the caller's back (tests' fixed engines): the local
    /// engine as it is.
    public func readBarrier(partition: Int) async throws(EngineError) -> MeterEngine {
        let route = route(partition: partition)
        guard case .local(let engine) = route else { throw route.refusal(partition: partition)! }
        return engine
    }
}

/// Where a partition's requests go.
public enum PartitionRoute: Sendable {
    /// This node holds the partition and has rebuilt it: its engine.
    case local(MeterEngine)
    /// Another node holds it: its name and client address (a Unix socket path or HOST:PORT).
    case remote(node: String, address: String)
    /// Nobody answers for it right now; the error says why (UNAVAILABLE, retry).
    case unavailable(EngineError)

    /// The refusal a node gives when it cannot forward (the request was forwarded to it already).
    public func refusal(partition: Int) -> EngineError? {
        switch self {
        case .local: return nil
        case .remote(let node, let address):
            return .unavailable("partition \(partition) is owned by \(node) at \(address); send requests for its customers there")
        case .unavailable(let error): return error
        }
    }
}
