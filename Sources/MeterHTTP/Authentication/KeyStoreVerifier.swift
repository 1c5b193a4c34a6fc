import MeterCore
import MeterServer

/// Verifies bearer secrets against meterd's API keys (the wire server's `KeyStore`, shared with
/// the binary protocol, so a key created or revoked there holds here at once): the key's
/// tenant and role, audited as that key. No anonymous access.
public struct KeyStoreVerifier: BearerVerifier {
    private let keys: KeyStore

    public init(keys: KeyStore) {
        self.keys = keys
    }

    public var anonymousPrincipal: HTTPPrincipal? { nil }

    public func keyChanged(_ key: ApiKey) {
        keys.update(key)
    }

    public func verify(secret: String) async -> HTTPPrincipal? {
        guard ApiKeySecret.isWellFormed(secret) else { return nil }
        guard case .active(let key) = keys.lookup(secretHash: ApiKeySecret.hash(secret)) else { return nil }
        let role: AccessRole
        switch key.definition.role {
        case .admin: role = .admin
        case .ingest: role = .ingest
        case .read: role = .read
        }
        return HTTPPrincipal(tenantId: key.definition.tenantId, role: role, name: "key \(key.id) (\(key.definition.name))", actor: .apiKey(id: key.id))
    }
}
