import MeterCore
import MeterProto
import MeterWire
import NIOCore

/// Who a connection acts as, decided once at its handshake: the tenant every request acts
/// for, the role that decides which methods it may call, who the audit trail names, and the
/// API key (when one was used), whose revocation is checked again on every request.
public struct Principal: Sendable, Hashable {
    public var tenantId: String
    public var role: KeyRole
    public var actor: AuditActor
    /// The key's id when the connection authenticated with an API key.
    public var keyId: String? { actor.keyId }

    public init(tenantId: String, role: KeyRole, actor: AuditActor) {
        self.tenantId = tenantId
        self.role = role
        self.actor = actor
    }
}

/// Why a handshake was refused: the status the GOAWAY carries in its header's code field
/// (UNAUTHENTICATED or PERMISSION_DENIED) and a reason for the client's person.
public struct HandshakeRefusal: Error, Sendable, Hashable {
    public var status: StatusCode
    public var message: String

    public init(_ status: StatusCode, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// Decides at the handshake who a connection is (`Authenticator` in meterd). Called on the
/// connection's event loop; must not block. `refusalDelay` is how long a refused handshake
/// waits before its GOAWAY, to slow down guessing.
public protocol ConnectionAuthenticating: Sendable {
    func authenticate(_ handshake: Meterd_V1_Handshake, channel: any Channel) -> Result<Principal, HandshakeRefusal>
    var refusalDelay: Duration { get }
}

/// Takes the handshake's word: admin of the tenant it names ("default" when empty). For tests
/// of the connection machinery that are not about access control.
public struct HandshakeTrustingAuthenticator: ConnectionAuthenticating {
    public init() {}

    public func authenticate(_ handshake: Meterd_V1_Handshake, channel: any Channel) -> Result<Principal, HandshakeRefusal> {
        .success(Principal(tenantId: handshake.tenantID.isEmpty ? Tenant.defaultId : handshake.tenantID, role: .admin, actor: .bootstrap))
    }

    public var refusalDelay: Duration { .zero }
}
