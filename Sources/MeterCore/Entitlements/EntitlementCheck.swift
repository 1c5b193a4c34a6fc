/// The answer to "may this customer use this meter now?", computed from the aggregates in memory.
///
/// `usage` is the customer's usage in the billing period containing the instant asked about
/// (PERIODIC meters; `[periodStartMilliseconds, periodEndMilliseconds)`) or over the meter's
/// lifetime (CUMULATIVE meters; both bounds nil). `limit` is the entitlement's limit plus the
/// grants effective at that instant; `remaining` is `limit - usage`, never below zero, and
/// `overage` is `usage - limit`, never below zero.
public struct EntitlementCheck: Hashable, Sendable {
    public var meterId: String
    public var customerId: String
    public var hasAccess: Bool
    public var enforcement: EntitlementEnforcement
    /// True when the tenant-wide default applied (the customer has no entitlement of their own).
    public var isDefault: Bool
    public var usage: ExactDecimal
    public var limit: ExactDecimal
    /// The grants' part of `limit`.
    public var granted: ExactDecimal
    public var remaining: ExactDecimal
    public var overage: ExactDecimal
    public var periodStartMilliseconds: Int64?
    public var periodEndMilliseconds: Int64?
    public var atMilliseconds: Int64

    public init(meterId: String, customerId: String, hasAccess: Bool, enforcement: EntitlementEnforcement, isDefault: Bool,
                usage: ExactDecimal, limit: ExactDecimal, granted: ExactDecimal, remaining: ExactDecimal, overage: ExactDecimal,
                periodStartMilliseconds: Int64?, periodEndMilliseconds: Int64?, atMilliseconds: Int64) {
        self.meterId = meterId
        self.customerId = customerId
        self.hasAccess = hasAccess
        self.enforcement = enforcement
        self.isDefault = isDefault
        self.usage = usage
        self.limit = limit
        self.granted = granted
        self.remaining = remaining
        self.overage = overage
        self.periodStartMilliseconds = periodStartMilliseconds
        self.periodEndMilliseconds = periodEndMilliseconds
        self.atMilliseconds = atMilliseconds
    }
}
