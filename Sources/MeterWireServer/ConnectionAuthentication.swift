import MeterProto
import MeterWire
import NIOCore

/// Who a connection is, decided once at its handshake by the server's `ConnectionAuthenticating`:
/// the tenant every request acts for, the role and name the HandshakeAck states, and the
/// owner's own record of the principal (`details`, meterd's `Principal`), which the router's
/// `authorize` hook checks on every request.
public struct ConnectionIdentity: Sendable {
    public var tenantId: String
    public var role: Meterd_V1_KeyRole
    /// "key key_3", "uid 1000"; empty when the server does not authenticate.
    public var name: String
    public var details: (any Sendable)?

    public init(tenantId: String, role: Meterd_V1_KeyRole = .admin, name: String = "", details: (any Sendable)? = nil) {
        self.tenantId = tenantId
        self.role = role
        self.name = name
        self.details = details
    }
}

/// Why a handshake was refused. With a `status` (UNAUTHENTICATED, PERMISSION_DENIED) the GOAWAY
/// carries it in its header's code field and is sent after the authenticator's refusal delay;
/// without one it is a plain protocol refusal (code 0, at once), such as an invalid tenant id.
public struct HandshakeRefusal: Error, Sendable, Hashable {
    public var status: StatusCode?
    public var message: String

    public init(_ status: StatusCode?, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// Decides at the handshake who a connection is. Called on the connection's event loop; must
/// not block. `refusalDelay` is how long a refusal with a status waits before its GOAWAY.
public protocol ConnectionAuthenticating: Sendable {
    func authenticate(_ handshake: Meterd_V1_Handshake, channel: any Channel) -> Result<ConnectionIdentity, HandshakeRefusal>
    var refusalDelay: Duration { get }
}

/// A server without credentials (meter-sidecar's local socket) admits by tenant only.
extension TenantAdmission: ConnectionAuthenticating {
    public func authenticate(_ handshake: Meterd_V1_Handshake, channel: any Channel) -> Result<ConnectionIdentity, HandshakeRefusal> {
        switch admit(handshake) {
        case .success(let tenantId): return .success(ConnectionIdentity(tenantId: tenantId))
        case .failure(let refusal): return .failure(HandshakeRefusal(nil, refusal.reason))
        }
    }

    public var refusalDelay: Duration { .zero }
}
