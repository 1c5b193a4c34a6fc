/// Limits and time windows the state machine enforces. Every field has a documented default.
///
/// The defaults keep one invariant that makes "exactly once" hold forever, not just inside the
/// dedup window: `dedupWindow >= lateWindow + futureSkew`. An event id is remembered for the
/// dedup window after acceptance; by the time it is forgotten, any event carrying it has a
/// timestamp older than the late window and is rejected as too late. `init` checks it.
public struct MeterCoreConfiguration: Hashable, Sendable {
    /// Oldest accepted event timestamp, relative to the accept time. Default 24 hours.
    public var lateWindowMilliseconds: Int64 = 24 * 3_600_000
    /// How far in the future an event timestamp may be. Default 5 minutes.
    public var futureSkewMilliseconds: Int64 = 5 * 60_000
    /// How long an accepted event id is remembered. Default 48 hours.
    public var dedupWindowMilliseconds: Int64 = 48 * 3_600_000
    /// Minute buckets older than this (behind the newest accept time) are rolled into hour
    /// buckets. Default 72 hours. Must exceed the late window so late events keep their minute.
    public var minuteRetentionMilliseconds: Int64 = 72 * 3_600_000
    public var limits = EventLimits()
    /// The secret that keys the exactly-once index's fingerprints (see `DedupKey`). MeterEngine
    /// passes the data directory's own key; the default all-zero key is for tests and tools.
    public var dedupKey = DedupKey.unkeyed
    /// Bits of each fingerprint the index keeps. 128 in production (the collision bound in
    /// docs/architecture.md relies on it); tests lower it to make collisions common.
    public var dedupFingerprintBits = 128
    /// Per-tenant limits on customers and series per meter, checked at screening (default: none).
    public var quotas = CardinalityQuotas()

    public init() {}

    /// Returns a message for every rule the configuration breaks; empty when it is usable.
    public var problems: [String] {
        var problems: [String] = []
        if lateWindowMilliseconds < 0 { problems.append("late window must not be negative") }
        if futureSkewMilliseconds < 0 { problems.append("future skew must not be negative") }
        if dedupWindowMilliseconds < lateWindowMilliseconds + futureSkewMilliseconds {
            problems.append("dedup window must be at least late window + future skew, or a retried event could be counted twice")
        }
        if minuteRetentionMilliseconds <= lateWindowMilliseconds + futureSkewMilliseconds {
            problems.append("minute retention must exceed late window + future skew, so late events keep minute resolution")
        }
        for quota in [quotas.defaultQuota] + quotas.overrides.values where quota.customersPerMeter < 0 || quota.seriesPerMeter < 0 {
            problems.append("customer and series quotas must be 0 (unlimited) or more")
            break
        }
        if !(1...128).contains(dedupFingerprintBits) { problems.append("dedup fingerprint bits must be 1 to 128") }
        if !(1...EventLimits.dedupMaximumIdsUpperBound).contains(limits.dedupMaximumIds) {
            problems.append("the most remembered event ids must be 1 to \(EventLimits.dedupMaximumIdsUpperBound)")
        }
        return problems
    }
}

/// Size limits on events. Lengths are in UTF-8 bytes.
public struct EventLimits: Hashable, Sendable {
    public var eventIdMaximumBytes = 128
    public var customerIdMaximumBytes = 128
    public var sourceMaximumBytes = 128
    public var propertiesMaximumCount = 64
    public var propertyKeyMaximumBytes = 64
    public var propertyValueMaximumBytes = 512
    /// Most events one record may carry.
    public var batchMaximumEvents = 10_000
    /// Most event ids the exactly-once index remembers (about 32-40 bytes each, so the default
    /// 50,000,000 is about 2 GB). When it is full, ingest requests with new events are refused
    /// with RESOURCE_EXHAUSTED until ids older than the dedup window expire; duplicates of
    /// remembered ids are still answered. Applying logged records never refuses.
    public var dedupMaximumIds = 50_000_000
    /// Highest allowed `dedupMaximumIds` (positions in the index's slots are 32 bits).
    public static let dedupMaximumIdsUpperBound = 1 << 30

    public init() {}
}
