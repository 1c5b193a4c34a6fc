/// One tenant's limits on how many series each of its meters may hold (0 means unlimited).
///
/// A series is one (customer, group-by values) combination of a meter: what a usage query can
/// return as a row, and what the state machine keeps buckets for. `customersPerMeter` bounds
/// the distinct customers with usage in one meter; `seriesPerMeter` bounds the series (for a
/// meter without group-by the two are the same number).
public struct CardinalityQuota: Hashable, Sendable {
    public var customersPerMeter = 0
    public var seriesPerMeter = 0

    public init(customersPerMeter: Int = 0, seriesPerMeter: Int = 0) {
        self.customersPerMeter = customersPerMeter
        self.seriesPerMeter = seriesPerMeter
    }

    /// Neither limit is set: screening skips the check entirely.
    public var isUnlimited: Bool { customersPerMeter <= 0 && seriesPerMeter <= 0 }
}

/// The cardinality quotas of every tenant: a default and overrides by tenant id.
///
/// They are checked when an ingest request is screened (before anything is written), so an
/// event over a quota is rejected alone and never reaches the log: replay applies only what
/// was accepted and never re-decides a quota, whatever the settings are at the next start.
public struct CardinalityQuotas: Hashable, Sendable {
    public var defaultQuota = CardinalityQuota()
    public var overrides: [String: CardinalityQuota] = [:]

    public init(defaultQuota: CardinalityQuota = CardinalityQuota(), overrides: [String: CardinalityQuota] = [:]) {
        self.defaultQuota = defaultQuota
        self.overrides = overrides
    }

    public func quota(for tenantId: String) -> CardinalityQuota { overrides[tenantId] ?? defaultQuota }
}
