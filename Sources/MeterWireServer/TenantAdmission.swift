/// Decides, at the handshake, which tenant a connection serves: meterd admits any well-formed
/// tenant id, meter-sidecar only the one it forwards for. A refusal is a protocol error whose
/// reason the GOAWAY carries.
public struct TenantAdmission: Sendable {
    /// Why a handshake's tenant is refused.
    public struct Refusal: Error, Sendable {
        public var reason: String
        public init(reason: String) { self.reason = reason }
    }

    /// Takes the handshake's `tenant_id` (empty when the client named none) and returns the
    /// connection's tenant or the refusal.
    public let admit: @Sendable (_ requestedTenantId: String) -> Result<String, Refusal>

    public init(admit: @escaping @Sendable (_ requestedTenantId: String) -> Result<String, Refusal>) {
        self.admit = admit
    }

    /// The named tenant, or "default" when none is named; nothing is refused.
    public static let anyNamed = TenantAdmission { requested in .success(requested.isEmpty ? "default" : requested) }

    /// Only `tenantId` (an empty request means it too); every other tenant is refused.
    public static func only(_ tenantId: String, server: String) -> TenantAdmission {
        TenantAdmission { requested in
            guard requested.isEmpty || requested == tenantId else {
                return .failure(Refusal(reason: "this \(server) serves tenant \"\(tenantId)\" only, not \"\(requested.prefix(64))\""))
            }
            return .success(tenantId)
        }
    }
}
