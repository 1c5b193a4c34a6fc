import MeterWireServer
import MeterCore
import MeterEngine
import MeterProto
import MeterWire

/// CreateApiKey, ListApiKeys, RevokeApiKey and ListAuditEntries (admin only, see
/// RolePermissions). A key change updates the authenticator's `KeyStore` once it is durable and
/// before the reply, so a revoked key is refused from the next request on, on every connection.
struct AccessService {
    let engine: MeterEngine
    let keys: KeyStore

    static let auditLimitDefault = 1000
    static let auditLimitMaximum = 10_000

    func register(with router: inout Router) {
        let engine = engine
        let keys = keys
        router.register(.createApiKey, unary(Meterd_V1_CreateApiKeyRequest.self) { request, context throws(RPCFailure) in
            let (definition, secret) = ApiKeySecret.newKey(tenantId: context.tenantId, name: request.name, role: try ProtoConversions.role(request.role))
            return try await engineCall { () async throws(EngineError) in
                let key = try await engine.createApiKey(definition, actor: context.actor ?? .bootstrap)
                keys.update(key)
                var response = Meterd_V1_CreateApiKeyResponse()
                response.key = ProtoConversions.proto(key)
                response.secret = secret
                return response
            }
        })
        router.register(.listApiKeys, unary(Meterd_V1_ListApiKeysRequest.self) { request, context throws(RPCFailure) in
            let tenantId = context.tenantId
            let includeRevoked = request.includeRevoked
            return try await engineCall { () async throws(EngineError) in
                let found = try await engine.read { machine in machine.apiKeys(tenantId: tenantId, includeRevoked: includeRevoked) }
                var response = Meterd_V1_ListApiKeysResponse()
                response.keys = found.map(ProtoConversions.proto)
                return response
            }
        })
        router.register(.revokeApiKey, unary(Meterd_V1_RevokeApiKeyRequest.self) { request, context throws(RPCFailure) in
            return try await engineCall { () async throws(EngineError) in
                let key = try await engine.revokeApiKey(tenantId: context.tenantId, keyId: request.id, actor: context.actor ?? .bootstrap)
                keys.update(key)
                var response = Meterd_V1_RevokeApiKeyResponse()
                response.key = ProtoConversions.proto(key)
                return response
            }
        })
        router.register(.listAuditEntries, unary(Meterd_V1_ListAuditEntriesRequest.self) { request, context throws(RPCFailure) in
            let limit = request.limit == 0 ? Self.auditLimitDefault : Swift.min(Int(request.limit), Self.auditLimitMaximum)
            var query = AuditQuery(tenantId: context.tenantId, fromMilliseconds: request.fromMs == 0 ? nil : request.fromMs,
                                   toMilliseconds: request.toMs == 0 ? nil : request.toMs,
                                   keyId: request.keyID.isEmpty ? nil : request.keyID, limit: limit)
            let meter: MeterReference? = request.hasMeter ? try ProtoConversions.reference(request.meter) : nil
            let tenantId = context.tenantId
            return try await engineCall { () async throws(EngineError) in
                let entries = try await engine.read { machine throws(MeterError) in
                    if let meter { query.meterId = try machine.meter(tenantId: tenantId, meter).id }
                    return machine.auditEntries(query)
                }
                var response = Meterd_V1_ListAuditEntriesResponse()
                response.entries = entries.map(ProtoConversions.proto)
                return response
            }
        })
    }
}
