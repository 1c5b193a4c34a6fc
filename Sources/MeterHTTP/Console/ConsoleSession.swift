import Hummingbird

/// The console's sign-in: the API key travels in an HttpOnly, SameSite=Strict cookie and is
/// verified on every request with the same verifier as the API's bearer header, so a revoked
/// key stops working in the console at once.
enum ConsoleSession {
    static let cookieName = "meterd_key"

    /// The principal of the request's cookie, or of anonymous access when the verifier allows it.
    static func principal(_ request: Request, environment: MeterHTTPEnvironment) async -> HTTPPrincipal? {
        if let secret = request.cookies[cookieName]?.value, !secret.isEmpty {
            return await environment.verifier.verify(secret: FormDecoding.decode(Substring(secret)))
        }
        return environment.verifier.anonymousPrincipal
    }

    /// `secure`: over HTTPS the browser must never send the key over plain HTTP.
    static func setCookie(secret: String, secure: Bool) -> String {
        "\(cookieName)=\(FormDecoding.encode(secret)); Path=/; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    static func clearCookie(secure: Bool) -> String {
        "\(cookieName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" + (secure ? "; Secure" : "")
    }
}
