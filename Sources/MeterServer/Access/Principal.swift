import MeterCore
import MeterProto
import MeterWireServer

/// Who a meterd connection acts as, decided once at its handshake (`Authenticator`): the tenant
/// every request acts for, the role that decides which methods it may call, who the audit trail
/// names, and the API key (when one was used), whose revocation is checked again on every request.
/// It travels in the wire core's `ConnectionIdentity.details`.
public struct Principal: Sendable, Hashable {
    public var tenantId: String
    public var role: KeyRole
    public var actor: AuditActor
    /// Partitioned cluster mode: the connection is another node forwarding requests (its
    /// handshake's client name starts with `meterd-forward`); they are answered or refused
    /// here, never forwarded again.
    public var forwarded = false
    /// Partitioned cluster mode: authenticated by the cluster secret (another node, forwarding
    /// for this tenant): it may call the forwarded methods only.
    public var clusterPeer = false
    /// The key's id when the connection authenticated with an API key.
    public var keyId: String? { actor.keyId }

    public init(tenantId: String, role: KeyRole, actor: AuditActor) {
        self.tenantId = tenantId
        self.role = role
        self.actor = actor
    }

    /// The identity the wire core keeps for the connection.
    var identity: ConnectionIdentity {
        ConnectionIdentity(tenantId: tenantId, role: ProtoConversions.proto(role), name: clusterPeer ? "cluster node" : actor.description, details: self)
    }
}

extension RequestContext {
    /// meterd's principal of the connection; nil for callers that are not a connection.
    var principal: Principal? { identity?.details as? Principal }

    /// Who the audit trail names for an admin action of this request.
    var actor: AuditActor? { principal?.actor }
}
