import CoreMetrics

/// Gauges of a node's partitions in cluster mode (docs/operations.md, docs/cluster.md): which
/// partitions it serves, how far its engine of each applied the stream, and the stream's last
/// sequence, so that an operator sees ownership and replication lag per partition.
public final class ClusterMetrics: Sendable {
    private let serving: [Gauge]
    private let applied: [Gauge]
    private let lag: [Gauge]
    private let servedCount: Gauge
    private let streamLast: Gauge

    /// Gauges for partitions 0 to `partitions` - 1.
    public init(partitions: Int, factory: any MetricsFactory = MetricsSystem.factory) {
        func perPartition(_ label: String) -> [Gauge] {
            (0..<partitions).map { Gauge(label: label, dimensions: [("partition", "\($0)")], factory: factory) }
        }
        serving = perPartition("meterd_cluster_partition_serving")
        applied = perPartition("meterd_cluster_partition_applied_sequence")
        lag = perPartition("meterd_cluster_partition_lag_messages")
        servedCount = Gauge(label: "meterd_cluster_partitions_served", factory: factory)
        streamLast = Gauge(label: "meterd_cluster_stream_last_sequence", factory: factory)
    }

    /// Records one look at the node: per partition whether it serves it and the stream sequence
    /// its engine applied through (0: no engine here), and the stream's last sequence (nil:
    /// unreadable; the lag gauges then keep their last value).
    public func update(partitions: [(serving: Bool, appliedStreamSequence: UInt64)], streamLastSequence: UInt64?) {
        var served = 0
        for (index, partition) in partitions.enumerated() where index < serving.count {
            serving[index].record(partition.serving ? 1 : 0)
            applied[index].record(partition.appliedStreamSequence)
            if partition.serving { served += 1 }
            if let streamLastSequence {
                // Lag only means something where this node serves the partition.
                lag[index].record(partition.serving && streamLastSequence > partition.appliedStreamSequence
                                  ? streamLastSequence - partition.appliedStreamSequence : 0)
            }
        }
        servedCount.record(served)
        if let streamLastSequence { streamLast.record(streamLastSequence) }
    }
}
