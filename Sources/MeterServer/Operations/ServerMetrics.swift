import CoreMetrics
import MeterCore
import MeterEngine
import MeterWire
import MeterWireServer
import NIOConcurrencyHelpers

/// The server's own metrics, made through swift-metrics: per-event ingest results by tenant
/// (and rejection reason), request latency and status by method, open and refused connections.
///
/// Which backend gets them is the factory's business (meterd passes swift-prometheus's; the
/// default is whatever `MetricsSystem` was bootstrapped with, a no-op until then). Metric
/// objects are made once per label set and kept, so the hot path only looks one up under a
/// short lock and increments it. Every metric is described in docs/operations.md.
public final class ServerMetrics: WireServerObserver {
    /// Names of the metrics (docs/operations.md lists them with their labels).
    public enum Name {
        public static let eventsAccepted = "meterd_events_accepted_total"
        public static let eventsDuplicate = "meterd_events_duplicate_total"
        public static let eventsRejected = "meterd_events_rejected_total"
        public static let requestDuration = "meterd_request_duration_seconds"
        public static let requests = "meterd_requests_total"
        public static let openConnections = "meterd_open_connections"
        public static let refusedConnections = "meterd_connections_refused_total"
    }

    let factory: any MetricsFactory
    private let eventCounters = NIOLockedValueBox([EventCounterKey: Counter]())
    private let requestCounters = NIOLockedValueBox([RequestCounterKey: Counter]())
    /// Made on a method's first request, so a scrape lists only the methods that were called.
    private let requestTimers = NIOLockedValueBox([UInt16: Timer]())
    private let openConnectionsGauge: CoreMetrics.Meter
    private let refusedConnectionsCounter: Counter
    /// Refused credentials and denied methods (made through the same factory).
    public let access: AccessMetrics

    private struct EventCounterKey: Hashable {
        var tenantId: String
        /// nil: accepted; "" duplicate; otherwise the rejection reason.
        var outcome: String?
    }

    private struct RequestCounterKey: Hashable {
        var method: UInt16
        var status: UInt16
    }

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        openConnectionsGauge = CoreMetrics.Meter(label: Name.openConnections, dimensions: [], factory: factory)
        refusedConnectionsCounter = Counter(label: Name.refusedConnections, dimensions: [], factory: factory)
        access = AccessMetrics(factory: factory)
    }

    /// Counts one request's per-event results (each event once: accepted, duplicate, or
    /// rejected with its reason).
    public func record(_ results: [EventResult], tenantId: String) {
        var accepted = 0
        var duplicates = 0
        var rejected: [String: Int] = [:]
        for result in results {
            switch result {
            case .accepted: accepted += 1
            case .duplicate: duplicates += 1
            case .rejected(let error): rejected[error.code.name, default: 0] += 1
            }
        }
        if accepted > 0 { eventCounter(tenantId: tenantId, outcome: nil).increment(by: accepted) }
        if duplicates > 0 { eventCounter(tenantId: tenantId, outcome: "").increment(by: duplicates) }
        for (reason, count) in rejected { eventCounter(tenantId: tenantId, outcome: reason).increment(by: count) }
    }

    private func eventCounter(tenantId: String, outcome: String?) -> Counter {
        let key = EventCounterKey(tenantId: tenantId, outcome: outcome)
        return eventCounters.withLockedValue { counters in
            if let counter = counters[key] { return counter }
            let counter: Counter
            switch outcome {
            case nil: counter = Counter(label: Name.eventsAccepted, dimensions: [("tenant", tenantId)], factory: factory)
            case ""?: counter = Counter(label: Name.eventsDuplicate, dimensions: [("tenant", tenantId)], factory: factory)
            case let reason?: counter = Counter(label: Name.eventsRejected, dimensions: [("tenant", tenantId), ("reason", reason)], factory: factory)
            }
            counters[key] = counter
            return counter
        }
    }

    /// Records one answered request: its latency and its status.
    public func requestAnswered(method: UInt16, status: StatusCode, nanoseconds: Int64) {
        let name = MethodID(rawValue: method)?.name ?? "method_\(method)"
        let timer = requestTimers.withLockedValue { timers in
            if let timer = timers[method] { return timer }
            let timer = Timer(label: Name.requestDuration, dimensions: [("method", name)], factory: factory)
            timers[method] = timer
            return timer
        }
        timer.recordNanoseconds(nanoseconds)
        let key = RequestCounterKey(method: method, status: status.rawValue)
        let counter = requestCounters.withLockedValue { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: Name.requests, dimensions: [("method", name), ("status", status.description)], factory: factory)
            counters[key] = counter
            return counter
        }
        counter.increment()
    }

    public func connectionOpened() { openConnectionsGauge.increment() }
    public func connectionClosed() { openConnectionsGauge.decrement() }
    public func connectionRefused() { refusedConnectionsCounter.increment() }
}
