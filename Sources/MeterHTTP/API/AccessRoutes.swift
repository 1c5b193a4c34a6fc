import Hummingbird
import MeterCore
import MeterEngine
import MeterServer

/// `/api/v1/keys` and `/api/v1/audit` (admin only): list, create and revoke the tenant's API
/// keys, and read its audit trail. The same engine calls as the binary protocol's access
/// methods; a key created or revoked here is used by every listener from the next request on.
enum AccessRoutes {
    static func register(on router: Hummingbird.Router<BasicRequestContext>, environment: MeterHTTPEnvironment) {
        router.get("api/v1/keys") { request, _ -> Response in
            await answer { () throws(HTTPProblem) in
                let principal = try await environment.principal(request, needs: .admin)
                let includeRevoked = request.uri.queryParameters["includeRevoked"].map { $0 == "true" } ?? false
                let tenantId = principal.tenantId
                let keys = try await call { () async throws(EngineError) in
                    try await environment.engine.read { machine in machine.apiKeys(tenantId: tenantId, includeRevoked: includeRevoked) }
                }
                return jsonResponse(JSONOutput.items(keys, write))
            }
        }
        router.post("api/v1/keys") { request, _ -> Response in
            var request = request
            return await answer { () throws(HTTPProblem) in
                let principal = try await environment.principal(request, needs: .admin)
                let fields = try await environment.jsonObject(&request, context: "the key")
                try fields.refuseUnknown(allowed: ["name", "role"])
                let roleName = try fields.string("role") ?? ""
                guard let role = KeyRole(name: roleName) else {
                    throw HTTPProblem(.invalidArgument, "role must be admin, ingest or read, got \"\(roleName.prefix(40))\"", reason: RejectionCode.invalidKey.name)
                }
                let created = try await environment.createKey(name: try fields.string("name") ?? "", role: role, principal: principal)
                var output = JSONOutput()
                output.beginObject()
                output.key("key")
                write(created.key, to: &output)
                output.field("secret", created.secret)
                output.endObject()
                var response = jsonResponse(output.text, status: .created)
                response.headers[.location] = "/api/v1/keys/\(created.key.id)"
                return response
            }
        }
        router.delete("api/v1/keys/:key") { request, context -> Response in
            await answer { () throws(HTTPProblem) in
                let principal = try await environment.principal(request, needs: .admin)
                let keyId = context.parameters.get("key") ?? ""
                let key = try await environment.revokeKey(id: keyId, principal: principal)
                return jsonResponse(JSONOutput.text(of: key, write))
            }
        }
        router.get("api/v1/audit") { request, _ -> Response in
            await answer { () throws(HTTPProblem) in
                let principal = try await environment.principal(request, needs: .admin)
                let limitText = request.uri.queryParameters["limit"].map(String.init)
                let limit = limitText.flatMap { Int($0) } ?? 1000
                guard limitText == nil || (Int(limitText!) != nil && (1...10_000).contains(limit)) else {
                    throw HTTPProblem(.invalidArgument, "limit must be a whole number from 1 to 10000, got \"\(limitText!.prefix(20))\"", reason: RejectionCode.invalidQuery.name)
                }
                let keyId = request.uri.queryParameters["keyId"].map(String.init)
                let query = AuditQuery(tenantId: principal.tenantId, keyId: keyId?.isEmpty == false ? keyId : nil, limit: limit)
                let entries = try await call { () async throws(EngineError) in
                    try await environment.engine.read { machine in machine.auditEntries(query) }
                }
                return jsonResponse(JSONOutput.items(entries) { entry, output in
                    output.beginObject()
                    output.field("sequence", integer: entry.sequence)
                    output.field("at", CivilTime.rfc3339(milliseconds: entry.atMilliseconds))
                    output.field("actor", entry.actor.description)
                    output.field("action", entry.action.rawValue)
                    output.field("targetId", entry.targetId)
                    output.field("detail", entry.detail)
                    output.endObject()
                })
            }
        }
    }

    /// A key as JSON: never its secret (meterd keeps only a hash of it).
    static func write(_ key: ApiKey, to output: inout JSONOutput) {
        output.beginObject()
        output.field("id", key.id)
        output.field("name", key.definition.name)
        output.field("role", key.definition.role.description)
        output.field("createdAt", CivilTime.rfc3339(milliseconds: key.createdAtMilliseconds))
        output.field("createdBy", key.createdBy.description)
        output.field("revokedAt", key.revokedAtMilliseconds.map { CivilTime.rfc3339(milliseconds: $0) })
        output.endObject()
    }
}
