import MeterCore
import MeterProto
import MeterWireServer

extension TenantAdmission {
    /// meterd's rule: the named tenant ("default" when none is named) if it is a well-formed
    /// name (the event-name rule of MeterCore); otherwise the handshake is refused.
    static let wellFormedName = TenantAdmission { handshake in
        let tenantId = handshake.tenantID.isEmpty ? "default" : handshake.tenantID
        guard NameRules.isValidEventName(tenantId) else {
            return .failure(Refusal(reason: "tenant id \"\(tenantId.prefix(64))\" is invalid: use 1-64 characters of a-z, 0-9, '_', '.', '-'"))
        }
        return .success(tenantId)
    }
}
