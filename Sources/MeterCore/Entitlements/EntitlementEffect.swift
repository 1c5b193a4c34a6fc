/// What one accepted event did to its customer's entitlement on the event's meter, decided when
/// the event's record was applied: the entitlement's state right after the event, in the billing
/// period containing the record's accept time (the lifetime for CUMULATIVE meters), with the
/// grants effective at that time. Asked for per ingest request (`IngestBatchRequest`'s
/// `include_entitlement_effects`); never logged or snapshotted.
public struct EntitlementEffect: Hashable, Sendable {
    public var hasAccess: Bool
    public var usage: ExactDecimal
    /// Entitlement limit plus effective grants.
    public var limit: ExactDecimal
    /// `limit - usage`, never below zero.
    public var remaining: ExactDecimal
    /// This event took usage from below the limit to the limit or above (for a HARD
    /// entitlement: the event that ended access; it was itself accepted and counted).
    public var crossed: Bool

    public init(hasAccess: Bool, usage: ExactDecimal, limit: ExactDecimal, remaining: ExactDecimal, crossed: Bool) {
        self.hasAccess = hasAccess
        self.usage = usage
        self.limit = limit
        self.remaining = remaining
        self.crossed = crossed
    }
}
