/// How a meter turns matching events into one number per window.
public struct Aggregation: Hashable, Sendable {
    public var kind: AggregationKind
    /// The property aggregated; nil exactly when `kind` is `.count`.
    public var field: String?
    /// Optional positive factor applied to a SUM (price per unit, say), once, to the exact sum.
    public var multiplier: ExactDecimal?

    public init(kind: AggregationKind, field: String? = nil, multiplier: ExactDecimal? = nil) {
        self.kind = kind
        self.field = field
        self.multiplier = multiplier
    }

    public static let count = Aggregation(kind: .count)
    public static func sum(_ field: String, multiplier: ExactDecimal? = nil) -> Aggregation {
        Aggregation(kind: .sum, field: field, multiplier: multiplier)
    }
}

/// The aggregation functions. Raw values are the names used on the wire and in the CLI.
public enum AggregationKind: String, CaseIterable, Hashable, Sendable {
    /// Number of matching events.
    case count = "COUNT"
    /// Exact sum of a numeric property (times the optional multiplier).
    case sum = "SUM"
    /// Exact sum divided by the number of events with a value, rounded half-to-even to 9 places.
    case average = "AVG"
    /// Smallest value of a numeric property.
    case minimum = "MIN"
    /// Largest value of a numeric property.
    case maximum = "MAX"
    /// Number of distinct values (canonical text) of a property.
    case countUnique = "COUNT_UNIQUE"
    /// Numeric value of the event with the latest timestamp (ties: the one accepted last).
    case latest = "LATEST"

    /// Whether the aggregation needs a numeric value in `field`.
    public var needsNumericField: Bool {
        switch self {
        case .count, .countUnique: return false
        case .sum, .average, .minimum, .maximum, .latest: return true
        }
    }
}

/// Whether a meter's usage is a running total or starts again each billing period.
public enum ResetPolicy: Hashable, Sendable {
    /// Never resets: the value at a time is the total since the beginning.
    case cumulative
    /// Resets at each billing period boundary, counted from `anchorMilliseconds`.
    case periodic(period: BillingPeriod, anchorMilliseconds: Int64)

    /// Default anchor: 2000-01-01T00:00:00Z, the first of a month at midnight UTC.
    public static let defaultAnchorMilliseconds: Int64 = 946_684_800_000

    /// A periodic reset with the defaults: monthly, anchored on the first of the month 00:00 UTC.
    public static let monthly = ResetPolicy.periodic(period: .monthly, anchorMilliseconds: defaultAnchorMilliseconds)
}
