import MeterProto
import MeterWire

/// API keys and the audit trail (admin role).
extension MeterClient {
    /// Creates an API key of this connection's tenant. The response's `secret` is shown only
    /// here: the server keeps its SHA-256.
    public func createApiKey(name: String, role: Meterd_V1_KeyRole, timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_CreateApiKeyResponse {
        var request = Meterd_V1_CreateApiKeyRequest()
        request.name = name
        request.role = role
        return try await call(.createApiKey, request, as: Meterd_V1_CreateApiKeyResponse.self, timeout: timeout)
    }

    /// The tenant's keys, in creation order (never their secrets).
    public func listApiKeys(includeRevoked: Bool = false, timeout: Duration? = nil) async throws(MeterClientError) -> [Meterd_V1_ApiKey] {
        var request = Meterd_V1_ListApiKeysRequest()
        request.includeRevoked = includeRevoked
        return try await call(.listApiKeys, request, as: Meterd_V1_ListApiKeysResponse.self, timeout: timeout).keys
    }

    /// Revokes a key: every later request with it is refused, also on open connections.
    public func revokeApiKey(id: String, timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_ApiKey {
        var request = Meterd_V1_RevokeApiKeyRequest()
        request.id = id
        return try await call(.revokeApiKey, request, as: Meterd_V1_RevokeApiKeyResponse.self, timeout: timeout).key
    }

    /// The tenant's audit trail, oldest first: the newest `limit` entries in [from, to) (0:
    /// unbounded), by or on `keyId`, on `meter`.
    public func auditEntries(fromMilliseconds: Int64 = 0, toMilliseconds: Int64 = 0, keyId: String = "",
                             meter: Meterd_V1_MeterReference? = nil, limit: UInt32 = 0,
                             timeout: Duration? = nil) async throws(MeterClientError) -> [Meterd_V1_AuditEntry] {
        var request = Meterd_V1_ListAuditEntriesRequest()
        request.fromMs = fromMilliseconds
        request.toMs = toMilliseconds
        request.keyID = keyId
        if let meter { request.meter = meter }
        request.limit = limit
        return try await call(.listAuditEntries, request, as: Meterd_V1_ListAuditEntriesResponse.self, timeout: timeout).entries
    }
}
