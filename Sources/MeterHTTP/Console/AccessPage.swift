import Hummingbird
import MeterCore
import MeterEngine

/// Keys and audit, for admins: the tenant's API keys (never their secrets, which meterd does not
/// keep) and the audit trail of admin actions, newest first. Read-only here: keys are created
/// and revoked with `meterctl keys` (docs/security.md).
enum AccessPage {
    static func render(principal: HTTPPrincipal, environment: MeterHTTPEnvironment) async -> Response {
        let tenantId = principal.tenantId
        let loaded: ([ApiKey], [AuditEntry])
        do {
            loaded = try await environment.engine.read { machine in
                (machine.apiKeys(tenantId: tenantId, includeRevoked: true), machine.auditEntries(AuditQuery(tenantId: tenantId)))
            }
        } catch {
            return HTML.page(title: "Keys and audit", signedInAs: principal.name,
                             body: "<h1>Keys and audit</h1><p class=\"field-error\">\(HTML.escape(error.description))</p>", status: .serviceUnavailable)
        }
        let (keys, audit) = loaded
        let keyRows = keys.map { key in
            """
            <tr><td><code>\(HTML.escape(key.id))</code></td><td>\(HTML.escape(key.definition.name))</td><td>\(HTML.escape(key.definition.role.description))</td>
            <td class="hide-narrow">\(HTML.escape(CivilTime.rfc3339(milliseconds: key.createdAtMilliseconds))) by \(HTML.escape(key.createdBy.description))</td>
            <td>\(key.revokedAtMilliseconds.map { "<span class=\"status archived\">Revoked \(HTML.escape(CivilTime.rfc3339(milliseconds: $0)))</span>" } ?? "<span class=\"status active\">Active</span>")</td></tr>
            """
        }.joined()
        let auditRows = audit.reversed().prefix(200).map { entry in
            """
            <tr><td class="hide-narrow">\(HTML.escape(CivilTime.rfc3339(milliseconds: entry.atMilliseconds)))</td><td>\(HTML.escape(entry.actor.description))</td>
            <td><code>\(HTML.escape(entry.action.rawValue))</code></td><td><code>\(HTML.escape(entry.targetId))</code></td><td>\(HTML.escape(entry.detail))</td></tr>
            """
        }.joined()
        return HTML.page(title: "Keys and audit", signedInAs: principal.name, body: """
            <h1>Keys and audit</h1>
            <p class="help">Keys are created and revoked with <code>meterctl keys create</code> and <code>meterctl keys revoke</code>; a revoked key stops working here and on the binary protocol at the next request.</p>
            <h2>API keys</h2>
            \(keys.isEmpty ? "<p class=\"card\">No keys in this tenant.</p>" : "<div class=\"scroll\"><table id=\"keys\"><thead><tr><th>Id</th><th>Name</th><th>Role</th><th class=\"hide-narrow\">Created</th><th>Status</th></tr></thead><tbody>\(keyRows)</tbody></table></div>")
            <h2>Audit trail</h2>
            \(auditRows.isEmpty ? "<p class=\"card\">No admin actions yet.</p>" : "<div class=\"scroll\"><table id=\"audit\"><thead><tr><th class=\"hide-narrow\">When</th><th>Who</th><th>Action</th><th>Target</th><th>Change</th></tr></thead><tbody>\(auditRows)</tbody></table></div>")
            """)
    }
}
