import MeterCore
import MeterEngine
import MeterWireServer

extension MeterEngine {
    /// Creates a meter within the tenant's meter quota: when `quotas` gives the tenant one, its
    /// active meters are counted first and a full quota is refused; then the meter is created,
    /// audited as `actor`. The binary protocol's CreateMeter and the HTTP API both create here.
    public func createMeter(_ definition: MeterDefinition, tenantId: String, within quotas: TenantQuotas?,
                            actor: AuditActor?) async throws(RPCFailure) -> Meter {
        if let quotas, quotas.quota(for: tenantId).meters > 0 {
            let active = try await engineCall { () async throws(EngineError) in
                try await read { machine in machine.meters(tenantId: tenantId, includeArchived: false).count }
            }
            if let refusal = quotas.admitMeter(activeMeters: active, tenantId: tenantId) { throw refusal }
        }
        return try await engineCall { () async throws(EngineError) in try await createMeter(definition, actor: actor) }
    }
}
