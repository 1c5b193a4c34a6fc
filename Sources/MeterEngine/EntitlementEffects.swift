import MeterCore

/// Where an ingest request that asked for its events' entitlement effects finds them
/// (`MeterEngine.ingest(tenantId:events:entitlementEffects:completion:)`).
///
/// Filled on the writer thread while the request's record is applied, before the completion
/// runs; read it only from the completion or after it (the completion's hand-off orders it).
public final class EntitlementEffects: @unchecked Sendable {
    /// One entry per event of the request, in order: the effect on its customer's entitlement,
    /// nil for an event that was rejected, a duplicate, or on no meter with an entitlement for
    /// its customer.
    public internal(set) var effects: [EntitlementEffect?] = []

    public init() {}
}
