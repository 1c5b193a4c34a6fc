/// Names a meter by its id or by the event name of its tenant's meter.
public enum MeterReference: Hashable, Sendable {
    case id(String)
    /// The active meter with this event name, or else the most recently created archived one.
    case eventName(String)
}

/// A usage question: one meter, a time range split into windows, optionally one customer,
/// optionally broken down by customer and by the meter's group-by keys.
///
/// `fromMilliseconds` and `toMilliseconds` bound the half-open range [from, to) and must be whole
/// minutes. Windows follow `windowSize` boundaries (UTC; weeks start on Monday); the first and
/// last window are cut at `from` and `to` when those are not on a boundary. Without a window
/// size the whole range is one window. For a CUMULATIVE meter a window's value is the running
/// total from the beginning of time to the window's end; for a PERIODIC meter it is the usage
/// inside the window.
public struct UsageQuery: Hashable, Sendable {
    public var tenantId: String
    public var meter: MeterReference
    public var fromMilliseconds: Int64
    public var toMilliseconds: Int64
    public var windowSize: WindowSize?
    /// Only this customer's usage; nil for all customers.
    public var customerId: String?
    /// One row per customer and window instead of one per window.
    public var groupByCustomer: Bool
    /// A subset of the meter's group-by keys to break usage down by.
    public var groupBy: [String]
    /// Only usage whose group value for `key` is one of `values` (keys from the meter's group-by).
    public var groupFilters: [MeterFilter]

    public init(
        tenantId: String = Tenant.defaultId,
        meter: MeterReference,
        fromMilliseconds: Int64,
        toMilliseconds: Int64,
        windowSize: WindowSize? = nil,
        customerId: String? = nil,
        groupByCustomer: Bool = false,
        groupBy: [String] = [],
        groupFilters: [MeterFilter] = []
    ) {
        self.tenantId = tenantId
        self.meter = meter
        self.fromMilliseconds = fromMilliseconds
        self.toMilliseconds = toMilliseconds
        self.windowSize = windowSize
        self.customerId = customerId
        self.groupByCustomer = groupByCustomer
        self.groupBy = groupBy
        self.groupFilters = groupFilters
    }

    /// Most windows one query may return, per group.
    public static let windowsMaximumCount = 100_000
    /// Most rows (windows x output groups) one answer may hold. Checked before any usage is
    /// folded, from the window count and the number of groups present, so a query that is too
    /// large costs a count of the meter's series and no memory. 100,000 rows encode to 2-6 MB.
    public static let rowsMaximumCount = 100_000
    /// Queries must stay inside 1970-01-01T00:00:00Z ..< 10000-01-01T00:00:00Z.
    public static let earliestMilliseconds: Int64 = 0
    public static let latestMilliseconds: Int64 = 253_402_300_800_000
}

/// One group-by key of a usage row and its value; nil when the events lacked the property.
public struct GroupValue: Hashable, Sendable {
    public var key: String
    public var value: String?

    public init(key: String, value: String?) {
        self.key = key
        self.value = value
    }
}

/// The usage of one window (and one customer and group, when the query breaks usage down).
public struct UsageRow: Hashable, Sendable {
    public var windowStartMilliseconds: Int64
    public var windowEndMilliseconds: Int64
    /// Set when the query groups by customer or names a customer.
    public var customerId: String?
    public var group: [GroupValue]
    /// The aggregate; nil for AVG, MIN, MAX and LATEST when no event counted.
    public var value: ExactDecimal?
    /// Events folded into `value`.
    public var eventCount: Int64

    public init(
        windowStartMilliseconds: Int64, windowEndMilliseconds: Int64, customerId: String?,
        group: [GroupValue], value: ExactDecimal?, eventCount: Int64
    ) {
        self.windowStartMilliseconds = windowStartMilliseconds
        self.windowEndMilliseconds = windowEndMilliseconds
        self.customerId = customerId
        self.group = group
        self.value = value
        self.eventCount = eventCount
    }
}

/// The answer to a `UsageQuery`: the meter it read and its rows, ordered by customer id, then
/// group values, then window start.
public struct UsageResult: Hashable, Sendable {
    public var meter: Meter
    public var rows: [UsageRow]
}
