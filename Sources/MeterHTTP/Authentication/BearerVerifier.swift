import MeterCore

/// What a caller may do over HTTP: the roles of an API key, smallest first.
public enum AccessRole: String, Sendable, Comparable, CaseIterable {
    /// May send events only.
    case ingest
    /// May read meters and usage.
    case read
    /// May also create, rename and archive meters.
    case admin

    private var rank: Int {
        switch self {
        case .ingest: return 0
        case .read: return 1
        case .admin: return 2
        }
    }

    public static func < (left: AccessRole, right: AccessRole) -> Bool { left.rank < right.rank }

    /// Whether this role covers `needed` (admin covers everything; read does not cover ingest).
    public func allows(_ needed: AccessRole) -> Bool {
        switch (self, needed) {
        case (.admin, _): return true
        case (.read, .read), (.ingest, .ingest): return true
        default: return false
        }
    }
}

/// Who a verified bearer secret belongs to. The tenant comes from the credential, never from
/// anything else in the request.
public struct HTTPPrincipal: Sendable, Hashable {
    public var tenantId: String
    public var role: AccessRole
    /// A name for logs and the console ("key key_3 (ci)", "open access").
    public var name: String
    /// Who the audit trail names for this principal's admin actions (nil: nobody in particular).
    public var actor: AuditActor?

    public init(tenantId: String, role: AccessRole, name: String, actor: AuditActor? = nil) {
        self.tenantId = tenantId
        self.role = role
        self.name = name
        self.actor = actor
    }
}

/// Turns the secret of `Authorization: Bearer <secret>` (or the console's cookie) into a
/// principal. The HTTP layer only knows this protocol, so any key store can sit behind it.
public protocol BearerVerifier: Sendable {
    /// Whether requests without a secret are allowed (and as whom).
    var anonymousPrincipal: HTTPPrincipal? { get }
    /// The principal of `secret`, or nil when it is not a valid, unrevoked key.
    func verify(secret: String) async -> HTTPPrincipal?
    /// A key was created or revoked over HTTP and is durable: verify by it from now on.
    func keyChanged(_ key: ApiKey)
}

extension BearerVerifier {
    public func keyChanged(_ key: ApiKey) {}
}

/// No authentication: every request acts as tenant `default` with the admin role. meterd uses it
/// until API keys are wired in, and then only with HTTP bound to a loopback address.
public struct OpenAccessVerifier: BearerVerifier {
    public let tenantId: String

    public init(tenantId: String = "default") {
        self.tenantId = tenantId
    }

    public var anonymousPrincipal: HTTPPrincipal? { HTTPPrincipal(tenantId: tenantId, role: .admin, name: "open access") }

    public func verify(secret: String) async -> HTTPPrincipal? { anonymousPrincipal }
}

/// A fixed table of secrets, for tests and for a small deployment's configuration.
public struct StaticKeyVerifier: BearerVerifier {
    private let keys: [String: HTTPPrincipal]

    public init(keys: [String: HTTPPrincipal]) {
        self.keys = keys
    }

    public var anonymousPrincipal: HTTPPrincipal? { nil }

    public func verify(secret: String) async -> HTTPPrincipal? { keys[secret] }
}
