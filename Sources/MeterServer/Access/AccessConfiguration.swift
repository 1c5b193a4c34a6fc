#if canImport(Glibc)
import Glibc
#endif
import MeterCore

/// Who may connect without an API key, and how refusals are slowed (docs/security.md).
public struct AccessConfiguration: Sendable {
    /// The local user that is admin of every tenant on the Unix socket without a key: by
    /// default meterd's own user, so `swift run meterd` plus `meterctl` need no setup. nil:
    /// nobody, every connection needs a key.
    public var socketOwnerUid: UInt32? = geteuid()
    /// Other local users (by uid) admitted on the Unix socket without a key, each to one
    /// tenant with one role (`meterd --peer-access UID=TENANT:ROLE`).
    public var peerRules: [UInt32: PeerAccessRule] = [:]
    /// How long a refused handshake waits before its GOAWAY (slows down guessing; the
    /// connection's event loop is not blocked).
    public var refusalDelay: Duration = .milliseconds(500)
    /// Partitioned cluster mode: the shared cluster secrets (`--cluster-secret-file`, one or two
    /// lines). A handshake whose credential is `ClusterCredential.credential(secret:)` of any of
    /// them is another node forwarding for the tenant it names; this node forwards with the
    /// first. Two secrets let a rotation go node by node without refused forwards (docs/cluster.md,
    /// "Forwarding"). Empty: no cluster credential is accepted.
    public var clusterSecrets: [String] = []

    public init() {}
}

/// A local user's tenant and role on the Unix socket.
public struct PeerAccessRule: Sendable, Hashable {
    public var uid: UInt32
    public var tenantId: String
    public var role: KeyRole

    public init(uid: UInt32, tenantId: String, role: KeyRole) {
        self.uid = uid
        self.tenantId = tenantId
        self.role = role
    }

    /// Parses "UID=TENANT:ROLE" ("1001=acme:ingest"); nil with no explanation when malformed
    /// (the caller names the setting).
    public init?(parsing text: String) {
        let parts = text.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, let uid = UInt32(parts[0].trimmingCharacters(in: .whitespaces)) else { return nil }
        let grant = parts[1].split(separator: ":", maxSplits: 1)
        guard grant.count == 2, let role = KeyRole(name: grant[1].trimmingCharacters(in: .whitespaces)) else { return nil }
        let tenant = grant[0].trimmingCharacters(in: .whitespaces)
        guard NameRules.isValidEventName(tenant) else { return nil }
        self.init(uid: uid, tenantId: tenant, role: role)
    }
}

/// meterd's access settings apart from the wire core's configuration: who may connect without a
/// key (and the refusal delay), and the tenant quotas.
public struct AccessSettings: Sendable {
    public var configuration = AccessConfiguration()
    public var defaultQuota = TenantQuota()
    public var tenantQuotas: [String: TenantQuota] = [:]

    public init() {}
}
