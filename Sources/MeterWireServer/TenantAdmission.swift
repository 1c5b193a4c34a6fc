import MeterProto

/// Decides, at the handshake, which tenant a connection serves: meterd admits any well-formed
/// tenant id, meter-sidecar only the one it forwards for. It sees the whole `Handshake`, so an
/// authenticator can derive the tenant from the credential instead. A refusal is a protocol
/// error whose reason the GOAWAY carries.
public struct TenantAdmission: Sendable {
    /// Why a handshake's tenant is refused.
    public struct Refusal: Error, Sendable {
        public var reason: String
        public init(reason: String) { self.reason = reason }
    }

    /// Takes the client's handshake (its `tenant_id` is empty when the client named none) and
    /// returns the connection's tenant or the refusal.
    public let admit: @Sendable (_ handshake: Meterd_V1_Handshake) -> Result<String, Refusal>

    public init(admit: @escaping @Sendable (_ handshake: Meterd_V1_Handshake) -> Result<String, Refusal>) {
        self.admit = admit
    }

    /// The named tenant, or "default" when none is named; nothing is refused.
    public static let anyNamed = TenantAdmission { handshake in .success(handshake.tenantID.isEmpty ? "default" : handshake.tenantID) }

    /// Only `tenantId` (an empty request means it too); every other tenant is refused.
    public static func only(_ tenantId: String, server: String) -> TenantAdmission {
        TenantAdmission { handshake in
            let requested = handshake.tenantID
            guard requested.isEmpty || requested == tenantId else {
                return .failure(Refusal(reason: "this \(server) serves tenant \"\(tenantId)\" only, not \"\(requested.prefix(64))\""))
            }
            return .success(tenantId)
        }
    }
}
