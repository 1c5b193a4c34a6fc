// Built with the Cluster trait only (`swift build --traits Cluster`, needs libnats-dev).
#if Cluster
import Foundation

/// Fencing of snapshot publishing by the lease (docs/cluster.md, "Snapshots"): right before a
/// node publishes a snapshot's manifest, it must still hold the scope's lease, both by its own
/// clock (`holdsLocally`: renewed within half a lease, so no other node can have taken it) and
/// as the bucket says now (the key names this node). A partition's snapshot is fenced by its
/// partition's lease; the meta engine's by partition 0's (its holder publishes them). The
/// lease revision read is recorded in the manifest.
struct LeaseFence: Sendable {
    let bucket: KeyValueBucket
    let node: String
    /// Whether this node holds `partition`'s lease by its own clock now.
    let holdsLocally: @Sendable (Int) -> Bool

    /// The partition whose lease decides who publishes `scope`'s snapshots.
    static func partition(of scope: SnapshotScope) -> Int {
        switch scope {
        case .partition(let partition): return partition
        case .meta: return 0
        }
    }

    /// The lease's revision when this node may publish `scope`'s snapshot; a failure saying
    /// why it may not.
    func check(_ scope: SnapshotScope) -> Result<UInt64, NATSError> {
        let partition = Self.partition(of: scope)
        guard holdsLocally(partition) else {
            return .failure(NATSError(message: "this node no longer holds the lease of partition \(partition)"))
        }
        switch bucket.get(LeasePlanner.leaseKey(partition)) {
        case .failure(let error):
            return .failure(NATSError(message: "the lease of partition \(partition) cannot be read: \(error)"))
        case .success(nil):
            return .failure(NATSError(message: "partition \(partition) has no lease"))
        case .success(let entry?):
            let owner = PartitionLease(text: entry.value)?.owner
            guard owner == node else {
                return .failure(NATSError(message: "the lease of partition \(partition) now names \(owner ?? "no node") (revision \(entry.revision))"))
            }
            return .success(entry.revision)
        }
    }
}
#endif
