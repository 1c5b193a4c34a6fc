import Synchronization

/// The engine's clock in cluster mode: the stream timestamp of the record being applied, so
/// that screening (late window, future skew, dedup expiry) decides the same on every node.
/// Set by the log's consumer before each record; read by the engine's writer.
public final class LogClock: Sendable {
    private let milliseconds = Atomic<Int64>(0)

    public init() {}

    /// Milliseconds since the Unix epoch of the record being applied (0 before the first).
    public func read() -> Int64 { milliseconds.load(ordering: .acquiring) }

    func set(_ value: Int64) { milliseconds.store(value, ordering: .releasing) }
}
