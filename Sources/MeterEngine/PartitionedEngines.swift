/// The engines of a node in partitioned cluster mode (docs/cluster.md, "Partitions"): each
/// event partition is applied by one engine on the node that owns it. The server asks which
/// partition a customer's events belong to and which engine answers for it here.
///
/// `engine(partition:)` fails with `EngineError.unavailable` and a message naming the
/// partition's owner (its node and client address) when this node does not own it, or saying
/// the partition is being rebuilt here: the client can send the request there, or retry.
public protocol PartitionedEngines: Sendable {
    /// The partition of (tenant, customer), fixed when the cluster was created.
    func partition(tenantId: String, customerId: String) -> Int
    /// The engine applying `partition` on this node, or why there is none.
    func engine(partition: Int) -> Result<MeterEngine, EngineError>
}
