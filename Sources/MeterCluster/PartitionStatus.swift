// Built with the Cluster trait only (`swift build --traits Cluster`, needs libnats-dev).
#if Cluster
/// One partition as this node sees it, for metrics: whether it serves it now, and how far its
/// engine of it has applied the stream (0 when it holds no engine of it).
public struct PartitionStatus: Sendable, Equatable {
    public var partition: Int
    /// This node answers for the partition now (it holds the lease and has caught up).
    public var serving: Bool
    /// The stream sequence this node's engine of the partition applied through (0: none).
    public var appliedStreamSequence: UInt64
}
#endif
