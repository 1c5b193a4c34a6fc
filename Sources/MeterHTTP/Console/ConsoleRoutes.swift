import Hummingbird
import MeterCore
import MeterEngine
import MeterServer
import MeterWireServer

/// The web console under `/console`: sign-in, meters list, Add Meter, meter page, event
/// debugger. Server-rendered HTML; the only script adds filter rows and shows the period
/// picker for periodic meters.
enum ConsoleRoutes {
    static func register(on router: Hummingbird.Router<BasicRequestContext>, environment: MeterHTTPEnvironment) {
        router.get("console/sign-in") { request, _ -> Response in
            SignInPage.render(message: nil)
        }
        router.post("console/sign-in") { request, _ -> Response in
            var request = request
            let form = FormDecoding.pairs(Substring(decoding: (try? await environment.body(&request)) ?? [], as: UTF8.self))
            let secret = form.last(where: { $0.key == "api_key" })?.value.trimmingCharacters(in: .whitespaces) ?? ""
            guard !secret.isEmpty, await environment.verifier.verify(secret: secret) != nil else {
                if !secret.isEmpty { await environment.delayRefusal() }
                return SignInPage.render(message: secret.isEmpty ? "Enter an API key." : "This API key is not valid or was revoked.")
            }
            return HTML.redirect("/console", cookie: ConsoleSession.setCookie(secret: secret, secure: environment.servesTLS))
        }
        router.post("console/sign-out") { _, _ -> Response in
            HTML.redirect("/console/sign-in", cookie: ConsoleSession.clearCookie(secure: environment.servesTLS))
        }
        router.get("console") { request, _ -> Response in
            await signedIn(request, environment: environment, needs: .read) { principal in
                await MetersPage.render(principal: principal, environment: environment, notice: nil)
            }
        }
        router.get("console/meters/new") { request, _ -> Response in
            await signedIn(request, environment: environment, needs: .admin) { principal in
                AddMeterPage.render(principal: principal, form: AddMeterForm(), errors: [:])
            }
        }
        router.post("console/meters") { request, _ -> Response in
            var request = request
            let bytes = (try? await environment.body(&request)) ?? []
            return await signedIn(request, environment: environment, needs: .admin) { principal in
                let form = AddMeterForm(pairs: FormDecoding.pairs(Substring(decoding: bytes, as: UTF8.self)))
                return await AddMeterPage.submit(form, principal: principal, environment: environment)
            }
        }
        router.get("console/meters/:meter") { request, context -> Response in
            let meter = context.parameters.get("meter") ?? ""
            return await signedIn(request, environment: environment, needs: .read) { principal in
                await MeterPage.render(meter: meter, request: request, principal: principal, environment: environment)
            }
        }
        router.get("console/access") { request, _ -> Response in
            await signedIn(request, environment: environment, needs: .admin) { principal in
                await AccessPage.render(principal: principal, environment: environment)
            }
        }
        router.post("console/keys") { request, _ -> Response in
            var request = request
            let bytes = (try? await environment.body(&request)) ?? []
            return await signedIn(request, environment: environment, needs: .admin) { principal in
                await AccessPage.create(pairs: FormDecoding.pairs(Substring(decoding: bytes, as: UTF8.self)), principal: principal, environment: environment)
            }
        }
        router.post("console/keys/:key/revoke") { request, context -> Response in
            let keyId = context.parameters.get("key") ?? ""
            return await signedIn(request, environment: environment, needs: .admin) { principal in
                await AccessPage.revoke(keyId: keyId, principal: principal, environment: environment)
            }
        }
        router.get("console/events") { request, _ -> Response in
            await signedIn(request, environment: environment, needs: .read) { principal in
                EventDebuggerPage.render(request: request, principal: principal, environment: environment)
            }
        }
    }

    /// Runs `body` for a signed-in principal with the role; otherwise the sign-in page or a 403 page.
    static func signedIn(_ request: Request, environment: MeterHTTPEnvironment, needs role: AccessRole,
                         _ body: (HTTPPrincipal) async -> Response) async -> Response {
        guard let principal = await ConsoleSession.principal(request, environment: environment) else {
            return HTML.redirect("/console/sign-in")
        }
        guard principal.role.allows(role) else {
            return HTML.page(title: "Not allowed", signedInAs: principal.name,
                             body: "<h1>Not allowed</h1><p class=\"card\">The role <b>\(principal.role.rawValue)</b> of this key does not allow this page; it needs the \(role.rawValue) role.</p>",
                             status: .forbidden)
        }
        return await body(principal)
    }
}

/// Sign in with an API key.
enum SignInPage {
    static func render(message: String?) -> Response {
        let error = message.map { "<p class=\"field-error\" id=\"sign-in-error\">\(HTML.escape($0))</p>" } ?? ""
        return HTML.page(title: "Sign in", signedInAs: nil, body: """
            <h1>Sign in</h1>
            <form method="post" action="/console/sign-in" class="card">
            <label for="api_key">API key</label>
            <p class="help">The key decides your tenant and what you may do (admin, read or ingest).</p>
            <input type="password" id="api_key" name="api_key" autocomplete="current-password" required>
            \(error)
            <p><button type="submit" class="primary" id="sign-in">Sign in</button></p>
            </form>
            """, status: message == nil ? .ok : .unauthorized)
    }
}
