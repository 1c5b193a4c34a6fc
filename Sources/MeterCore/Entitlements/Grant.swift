/// What an admin adds to raise one customer's limit on one meter: `amount` more usage, from
/// `effectiveFromMilliseconds` until `expiresAtMilliseconds` (nil: never expires).
///
/// A grant raises the limit of every billing period it is effective in at the instant asked
/// about (a check asks about "now"; a threshold about the accept time of the record crossing it).
public struct GrantDefinition: Hashable, Sendable {
    public var tenantId: String
    public var meterId: String
    public var customerId: String
    public var amount: ExactDecimal
    public var effectiveFromMilliseconds: Int64
    public var expiresAtMilliseconds: Int64?

    public init(tenantId: String = Tenant.defaultId, meterId: String, customerId: String, amount: ExactDecimal,
                effectiveFromMilliseconds: Int64, expiresAtMilliseconds: Int64?) {
        self.tenantId = tenantId
        self.meterId = meterId
        self.customerId = customerId
        self.amount = amount
        self.effectiveFromMilliseconds = effectiveFromMilliseconds
        self.expiresAtMilliseconds = expiresAtMilliseconds
    }

    /// Whether the grant counts at `instantMilliseconds`: [effective from, expires at).
    public func isEffective(atMilliseconds instant: Int64) -> Bool {
        instant >= effectiveFromMilliseconds && (expiresAtMilliseconds.map { instant < $0 } ?? true)
    }
}

/// A grant as applied from the log, with the id assigned then ("grt_" and a number).
public struct Grant: Hashable, Sendable {
    public var id: String
    public var definition: GrantDefinition
    public var createdAtMilliseconds: Int64

    public init(id: String, definition: GrantDefinition, createdAtMilliseconds: Int64) {
        self.id = id
        self.definition = definition
        self.createdAtMilliseconds = createdAtMilliseconds
    }
}
