import CoreMetrics
import NIOConcurrencyHelpers

/// Exports a cumulative count that something else keeps (the engine's, the sidecar's) as a
/// swift-metrics counter, by adding what it grew by since the last look.
public final class CounterMirror: Sendable {
    private let counter: Counter
    private let seen = NIOLockedValueBox<UInt64>(0)

    public init(_ counter: Counter) { self.counter = counter }

    /// Adds the growth since the last call; a smaller value (a restart) is taken as the new base.
    public func advance(to total: UInt64) {
        let growth = seen.withLockedValue { seen -> UInt64 in
            defer { seen = total }
            return total > seen ? total - seen : 0
        }
        if growth > 0 { counter.increment(by: Int64(clamping: growth)) }
    }
}
