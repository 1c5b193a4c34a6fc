/// What a snapshot shared through JetStream holds (docs/cluster.md, "Snapshots"): one event
/// partition's engine, or the meta engine (meters, keys) every node runs. Named in subjects
/// and manifests as `p<N>` or `meta`.
public enum SnapshotScope: Hashable, Sendable, CustomStringConvertible {
    case partition(Int)
    case meta

    /// `p3` or `meta`.
    public var name: String {
        switch self {
        case .partition(let partition): return "p\(partition)"
        case .meta: return "meta"
        }
    }

    /// `partition 3` or `the meta engine`, for log lines.
    public var description: String {
        switch self {
        case .partition(let partition): return "partition \(partition)"
        case .meta: return "meta"
        }
    }

    /// Parses `p3` or `meta`; nil otherwise.
    public init?(name: some StringProtocol) {
        if name == "meta" {
            self = .meta
        } else if name.hasPrefix("p"), let partition = Int(name.dropFirst()), partition >= 0 {
            self = .partition(partition)
        } else {
            return nil
        }
    }
}
