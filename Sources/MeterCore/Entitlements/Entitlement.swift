/// How an entitlement's limit is enforced: a HARD limit denies access once usage reaches it; a
/// SOFT limit only reports the overage (access stays granted).
public enum EntitlementEnforcement: UInt8, Hashable, Sendable, CaseIterable {
    case hard = 1
    case soft = 2

    /// "HARD" or "SOFT", as shown by meterctl and the HTTP API.
    public var name: String { self == .hard ? "HARD" : "SOFT" }
}

/// What an admin sets: a usage limit on one meter for one customer, or (customer nil) the
/// tenant-wide default for every customer without an entitlement of their own.
///
/// The limit applies per billing period of a PERIODIC meter and to the lifetime of a CUMULATIVE
/// one. Setting an entitlement for the same meter and customer again replaces it.
public struct EntitlementDefinition: Hashable, Sendable {
    public var tenantId: String
    public var meterId: String
    /// nil: the tenant-wide default.
    public var customerId: String?
    public var limit: ExactDecimal
    public var enforcement: EntitlementEnforcement

    public init(tenantId: String = Tenant.defaultId, meterId: String, customerId: String?, limit: ExactDecimal,
                enforcement: EntitlementEnforcement) {
        self.tenantId = tenantId
        self.meterId = meterId
        self.customerId = customerId
        self.limit = limit
        self.enforcement = enforcement
    }
}

/// An entitlement as applied from the log: its definition and when it was last set.
public struct Entitlement: Hashable, Sendable {
    public var definition: EntitlementDefinition
    public var updatedAtMilliseconds: Int64
    /// The log position of the record that set it.
    public var sequence: UInt64

    public init(definition: EntitlementDefinition, updatedAtMilliseconds: Int64, sequence: UInt64) {
        self.definition = definition
        self.updatedAtMilliseconds = updatedAtMilliseconds
        self.sequence = sequence
    }
}

/// Names one entitlement: a meter and a customer (nil for the tenant-wide default).
struct EntitlementKey: Hashable, Comparable {
    var tenantId: String
    var meterId: String
    var customerId: String?

    static func < (left: EntitlementKey, right: EntitlementKey) -> Bool {
        (left.tenantId, left.meterId, left.customerId == nil ? 0 : 1, left.customerId ?? "")
            < (right.tenantId, right.meterId, right.customerId == nil ? 0 : 1, right.customerId ?? "")
    }
}
