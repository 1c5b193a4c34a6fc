/// What an admin asks for when creating a meter: which events count and how they aggregate.
///
/// Everything here except `displayName` is fixed forever once the meter is created. To change
/// filters or the aggregation, archive the meter (which frees its event name) and create a new
/// one; the new meter backfills the retained events that carry its name.
public struct MeterDefinition: Hashable, Sendable {
    public var tenantId: String
    public var eventName: String
    public var displayName: String
    public var filters: [MeterFilter]
    public var aggregation: Aggregation
    public var reset: ResetPolicy
    public var groupBy: [String]

    public init(
        tenantId: String = Tenant.defaultId,
        eventName: String,
        displayName: String,
        filters: [MeterFilter] = [],
        aggregation: Aggregation,
        reset: ResetPolicy = .cumulative,
        groupBy: [String] = []
    ) {
        self.tenantId = tenantId
        self.eventName = eventName
        self.displayName = displayName
        self.filters = filters
        self.aggregation = aggregation
        self.reset = reset
        self.groupBy = groupBy
    }
}

/// An event counts toward a meter only if, for every filter, its property `key` is present and
/// its canonical text equals one of `values`.
public struct MeterFilter: Hashable, Sendable {
    public var key: String
    public var values: [String]

    public init(key: String, values: [String]) {
        self.key = key
        self.values = values
    }
}

/// Namespace for tenant-wide constants.
public enum Tenant {
    /// The tenant used when a client names none.
    public static let defaultId = "default"
}
