import MeterCore
import MeterWireServer
import CoreMetrics
import NIOConcurrencyHelpers

/// One tenant's limits (0 means unlimited).
public struct TenantQuota: Sendable, Hashable {
    /// Events per second, as a token bucket holding one second's worth.
    public var eventsPerSecond: Int = 0
    /// Active meters.
    public var meters: Int = 0
    /// Distinct customers and series per meter: enforced by the engine's screening (per event,
    /// deterministic), not at the edge; see `CardinalityQuota`.
    public var cardinality = CardinalityQuota()

    public init(eventsPerSecond: Int = 0, meters: Int = 0, cardinality: CardinalityQuota = CardinalityQuota()) {
        self.eventsPerSecond = eventsPerSecond
        self.meters = meters
        self.cardinality = cardinality
    }
}

/// Per-tenant quotas at the edge (docs/security.md, "Quotas"): a default for every tenant and
/// overrides by tenant. Ingest takes tokens from the tenant's bucket before anything reaches the
/// engine's queue, so a tenant over its rate is refused RESOURCE_EXHAUSTED (retryable, nothing
/// of that request written) while other tenants' requests go on. A request is admitted while the
/// bucket is positive and may take it below zero (a large batch is never starved; the average
/// rate still holds). Refusals are counted in `meterd_quota_refusals_total{tenant,quota}`.
public final class TenantQuotas: Sendable {
    public let defaultQuota: TenantQuota
    public let overrides: [String: TenantQuota]
    private let buckets = NIOLockedValueBox([String: Bucket]())
    private let refusals = NIOLockedValueBox([String: Counter]())
    private let factory: any MetricsFactory

    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    public init(defaultQuota: TenantQuota = TenantQuota(), overrides: [String: TenantQuota] = [:], factory: any MetricsFactory = MetricsSystem.factory) {
        self.defaultQuota = defaultQuota
        self.overrides = overrides
        self.factory = factory
    }

    public func quota(for tenantId: String) -> TenantQuota { overrides[tenantId] ?? defaultQuota }

    /// Whether `tenantId` may send `events` events now; the refusal to answer otherwise.
    public func admitEvents(_ events: Int, tenantId: String) -> RPCFailure? {
        let rate = quota(for: tenantId).eventsPerSecond
        guard rate > 0 else { return nil }
        let now = ContinuousClock.now
        let admitted = buckets.withLockedValue { buckets -> Bool in
            var bucket = buckets[tenantId] ?? Bucket(tokens: Double(rate), updated: now)
            let elapsed = now - bucket.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = Swift.min(Double(rate), bucket.tokens + seconds * Double(rate))
            bucket.updated = now
            defer { buckets[tenantId] = bucket }
            guard bucket.tokens > 0 else { return false }
            bucket.tokens -= Double(events)
            return true
        }
        if admitted { return nil }
        count(tenantId: tenantId, quota: "events_per_second")
        return RPCFailure(.resourceExhausted, "tenant \(tenantId) is over its quota of \(rate) events per second; retry with backoff", reason: "QUOTA_EVENTS_PER_SECOND")
    }

    /// The refusal when `tenantId` already has `activeMeters` meters and may have no more.
    public func admitMeter(activeMeters: Int, tenantId: String) -> RPCFailure? {
        let limit = quota(for: tenantId).meters
        guard limit > 0, activeMeters >= limit else { return nil }
        count(tenantId: tenantId, quota: "meters")
        return RPCFailure(.resourceExhausted, "tenant \(tenantId) is at its quota of \(limit) active meters; archive one first", reason: "QUOTA_METERS")
    }

    private func count(tenantId: String, quota: String) {
        let key = tenantId + "\u{0}" + quota
        refusals.withLockedValue { counters in
            if let counter = counters[key] { return counter }
            let made = Counter(label: "meterd_quota_refusals_total", dimensions: [("tenant", tenantId), ("quota", quota)], factory: factory)
            counters[key] = made
            return made
        }.increment()
    }
}
