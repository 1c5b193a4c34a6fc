import Hummingbird
import MeterCore
import MeterEngine

/// Keys and audit, for admins: the tenant's API keys (never their secrets, which meterd does not
/// keep), a form to create one (its secret is shown once, on the page that answers the form),
/// a Revoke button per active key, and the audit trail of admin actions, newest first.
enum AccessPage {
    /// What the page says above the keys after a change.
    enum Notice {
        case created(ApiKey, secret: String)
        case revoked(ApiKey)
        case failed(String)
    }

    static func render(principal: HTTPPrincipal, environment: MeterHTTPEnvironment, notice: Notice? = nil,
                       status: HTTPResponse.Status = .ok) async -> Response {
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
            let state: String
            if let revoked = key.revokedAtMilliseconds {
                state = "<span class=\"status archived\">Revoked \(HTML.escape(CivilTime.rfc3339(milliseconds: revoked)))</span>"
            } else {
                state = """
                    <span class="status active">Active</span>
                    <form method="post" action="/console/keys/\(HTML.escape(key.id))/revoke" class="inline">
                    <button type="submit" id="revoke-\(HTML.escape(key.id))" onclick="return confirm('Revoke \(HTML.escape(key.id))? Requests with it are refused from now on.')">Revoke</button></form>
                    """
            }
            return """
            <tr><td><code>\(HTML.escape(key.id))</code></td><td>\(HTML.escape(key.definition.name))</td><td>\(HTML.escape(key.definition.role.description))</td>
            <td class="hide-narrow">\(HTML.escape(CivilTime.rfc3339(milliseconds: key.createdAtMilliseconds))) by \(HTML.escape(key.createdBy.description))</td>
            <td>\(state)</td></tr>
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
            \(notice.map(noticeHTML) ?? "")
            <h2>API keys</h2>
            \(keys.isEmpty ? "<p class=\"card\">No keys in this tenant.</p>" : "<div class=\"scroll\"><table id=\"keys\"><thead><tr><th>Id</th><th>Name</th><th>Role</th><th class=\"hide-narrow\">Created</th><th>Status</th></tr></thead><tbody>\(keyRows)</tbody></table></div>")
            <form method="post" action="/console/keys" class="card" id="create-key-form">
            <h3>Create a key</h3>
            <label for="key_name">Name</label>
            <p class="help">Who or what uses it, for the audit trail (for example "checkout service").</p>
            <input type="text" id="key_name" name="name" maxlength="128" required>
            <label for="key_role">Role</label>
            <p class="help">ingest: send events only. read: meters and usage. admin: everything, including keys.</p>
            <select id="key_role" name="role"><option value="ingest">ingest</option><option value="read">read</option><option value="admin">admin</option></select>
            <p><button type="submit" class="primary" id="create-key">Create key</button></p>
            </form>
            <h2>Audit trail</h2>
            \(auditRows.isEmpty ? "<p class=\"card\">No admin actions yet.</p>" : "<div class=\"scroll\"><table id=\"audit\"><thead><tr><th class=\"hide-narrow\">When</th><th>Who</th><th>Action</th><th>Target</th><th>Change</th></tr></thead><tbody>\(auditRows)</tbody></table></div>")
            """, status: status)
    }

    private static func noticeHTML(_ notice: Notice) -> String {
        switch notice {
        case .created(let key, let secret):
            return """
                <div class="card" id="new-key"><p>Created <code>\(HTML.escape(key.id))</code> (\(HTML.escape(key.definition.name)), \(HTML.escape(key.definition.role.description))).
                Copy its secret now: meterd keeps only a hash of it and cannot show it again.</p>
                <p><code id="new-key-secret">\(HTML.escape(secret))</code></p></div>
                """
        case .revoked(let key):
            return "<p class=\"card\" id=\"key-notice\">Revoked <code>\(HTML.escape(key.id))</code>: requests with it are refused from now on.</p>"
        case .failed(let message):
            return "<p class=\"field-error\" id=\"key-notice\">\(HTML.escape(message))</p>"
        }
    }

    /// The create-key form's answer: the page with the new secret, or with the server's message.
    static func create(pairs: [(key: String, value: String)], principal: HTTPPrincipal, environment: MeterHTTPEnvironment) async -> Response {
        let name = pairs.last { $0.key == "name" }?.value.trimmingCharacters(in: .whitespaces) ?? ""
        let roleName = pairs.last { $0.key == "role" }?.value ?? ""
        guard let role = KeyRole(name: roleName) else {
            return await render(principal: principal, environment: environment, notice: .failed("Role must be admin, ingest or read."), status: .unprocessableContent)
        }
        do throws(HTTPProblem) {
            let created = try await environment.createKey(name: name, role: role, principal: principal)
            return await render(principal: principal, environment: environment, notice: .created(created.key, secret: created.secret), status: .created)
        } catch {
            return await render(principal: principal, environment: environment, notice: .failed(error.detail), status: .unprocessableContent)
        }
    }

    /// The Revoke button's answer.
    static func revoke(keyId: String, principal: HTTPPrincipal, environment: MeterHTTPEnvironment) async -> Response {
        do throws(HTTPProblem) {
            let key = try await environment.revokeKey(id: keyId, principal: principal)
            return await render(principal: principal, environment: environment, notice: .revoked(key))
        } catch {
            return await render(principal: principal, environment: environment, notice: .failed(error.detail), status: error.httpStatus)
        }
    }
}
