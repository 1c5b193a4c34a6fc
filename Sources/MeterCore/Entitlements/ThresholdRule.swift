/// Where a threshold lies: an absolute usage value, or a percentage of the customer's
/// entitlement limit (grants included) at the time of the crossing record.
public enum ThresholdLevel: Hashable, Sendable {
    case absolute(ExactDecimal)
    case percentOfEntitlement(ExactDecimal)
}

/// What an admin adds: notify when a customer's usage of a meter reaches `level` in a billing
/// period (PERIODIC meters) or over the meter's lifetime (CUMULATIVE meters). For one customer,
/// or (customer nil) for every customer of the tenant.
public struct ThresholdRuleDefinition: Hashable, Sendable {
    public var tenantId: String
    public var meterId: String
    public var customerId: String?
    public var level: ThresholdLevel

    public init(tenantId: String = Tenant.defaultId, meterId: String, customerId: String?, level: ThresholdLevel) {
        self.tenantId = tenantId
        self.meterId = meterId
        self.customerId = customerId
        self.level = level
    }
}

/// A threshold rule as applied from the log, with the id assigned then ("thr_" and a number).
public struct ThresholdRule: Hashable, Sendable {
    public var id: String
    public var definition: ThresholdRuleDefinition
    public var createdAtMilliseconds: Int64

    public init(id: String, definition: ThresholdRuleDefinition, createdAtMilliseconds: Int64) {
        self.id = id
        self.definition = definition
        self.createdAtMilliseconds = createdAtMilliseconds
    }
}

/// One threshold crossing, raised by the state machine when the record that made a customer's
/// usage reach a rule's level was applied. Numbered 1, 2, 3... in log order for the whole server,
/// so a reader resumes after the last number it saw. Each rule is crossed at most once per
/// customer and billing period (lifetime for CUMULATIVE meters): a new period re-arms it.
public struct ThresholdNotification: Hashable, Sendable {
    public var number: UInt64
    public var tenantId: String
    public var ruleId: String
    public var meterId: String
    public var customerId: String
    /// The level in usage units when the record was applied.
    public var threshold: ExactDecimal
    /// The customer's usage right after the crossing record.
    public var usage: ExactDecimal
    /// The period crossed; nil for CUMULATIVE meters.
    public var periodStartMilliseconds: Int64?
    public var periodEndMilliseconds: Int64?
    /// The log position of the crossing record and its time (the events' accept time).
    public var sequence: UInt64
    public var atMilliseconds: Int64

    public init(number: UInt64, tenantId: String, ruleId: String, meterId: String, customerId: String, threshold: ExactDecimal,
                usage: ExactDecimal, periodStartMilliseconds: Int64?, periodEndMilliseconds: Int64?, sequence: UInt64, atMilliseconds: Int64) {
        self.number = number
        self.tenantId = tenantId
        self.ruleId = ruleId
        self.meterId = meterId
        self.customerId = customerId
        self.threshold = threshold
        self.usage = usage
        self.periodStartMilliseconds = periodStartMilliseconds
        self.periodEndMilliseconds = periodEndMilliseconds
        self.sequence = sequence
        self.atMilliseconds = atMilliseconds
    }
}
