import Logging
import MeterCore
import MeterProto
import MeterWire
import NIOConcurrencyHelpers
import NIOCore
import MeterWireServer

/// meterd's access control at the edge (docs/security.md). At the handshake it decides who a
/// connection is: an API key (looked up by the SHA-256 of the secret) wherever it arrives, or,
/// on the Unix socket only, the peer's uid (the socket owner is admin of every tenant; other
/// users only as mapped). The tenant comes from the key or the mapping, never from the
/// client's word: a handshake naming another tenant is refused. On every request it checks
/// that the key is not revoked since, and that the role allows the method.
///
/// Failures are counted (`AccessMetrics`), logged at most once per `logInterval` with how many
/// there were, and the refused handshake's GOAWAY waits `refusalDelay`.
public final class Authenticator: ConnectionAuthenticating {
    public let keys: KeyStore
    public let configuration: AccessConfiguration
    let metrics: AccessMetrics
    private let logger: Logger
    private let logState = NIOLockedValueBox(LogState())

    /// Shortest time between two log lines about access failures.
    static let logInterval: Duration = .seconds(10)

    private struct LogState {
        var notLogged = 0
        var lastLine: ContinuousClock.Instant?
    }

    public init(keys: KeyStore, configuration: AccessConfiguration, metrics: AccessMetrics = AccessMetrics(), logger: Logger = Logger(label: "meterd")) {
        self.keys = keys
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
    }

    public var refusalDelay: Duration { configuration.refusalDelay }

    // MARK: Handshake

    public func authenticate(_ handshake: Meterd_V1_Handshake, channel: any Channel) -> Result<ConnectionIdentity, HandshakeRefusal> {
        let result = decide(credential: handshake.credential, tenantId: handshake.tenantID, peerUid: PeerCredentials.uid(of: channel),
                            isUnixSocket: { if case .unixDomainSocket = channel.localAddress { true } else { false } }())
        if case .failure(let failure) = result, failure.refusal.status != nil {
            failed(failure.reason, message: failure.refusal.message, peer: channel.remoteAddress.map { "\($0)" } ?? "unix socket")
        }
        return result.map { principal in
            var principal = principal
            principal.forwarded = principal.clusterPeer || handshake.clientName.hasPrefix(PartitionForwarder.clientNamePrefix)
            return principal.identity
        }.mapError { $0.refusal }
    }

    /// A refusal and the metric label of its reason.
    struct Failure: Error {
        var refusal: HandshakeRefusal
        var reason: String

        static func unauthenticated(_ reason: String, _ message: String) -> Failure {
            Failure(refusal: HandshakeRefusal(.unauthenticated, message), reason: reason)
        }
    }

    /// The decision, apart from the channel so that it can be tested alone.
    func decide(credential: String, tenantId requested: String, peerUid: UInt32?, isUnixSocket: Bool) -> Result<Principal, Failure> {
        if credential.hasPrefix(ClusterCredential.prefix) {
            return decideClusterPeer(credential.dropFirst(ClusterCredential.prefix.count), tenantId: requested)
        }
        if !credential.isEmpty {
            guard credential.utf8.count <= ApiKeySecret.maximumCredentialBytes else {
                return .failure(.unauthenticated("oversized", "the credential is longer than \(ApiKeySecret.maximumCredentialBytes) bytes; an API key has \(ApiKeySecret.length) characters"))
            }
            guard ApiKeySecret.isWellFormed(credential) else {
                return .failure(.unauthenticated("malformed", "the credential is not a meterd API key (\(ApiKeySecret.prefix) and 43 base64url characters)"))
            }
            switch keys.lookup(secretHash: ApiKeySecret.hash(credential)) {
            case .unknown:
                return .failure(.unauthenticated("unknown", "unknown API key"))
            case .revoked(let keyId):
                return .failure(.unauthenticated("revoked", "API key \(keyId) is revoked"))
            case .active(let key):
                let tenant = key.definition.tenantId
                if !requested.isEmpty && requested != tenant {
                    return .failure(Failure(refusal: HandshakeRefusal(.permissionDenied,
                        "API key \(key.id) belongs to tenant \(tenant), not \(requested.prefix(64)); leave the tenant out or use a key of that tenant"), reason: "wrong_tenant"))
                }
                return .success(Principal(tenantId: tenant, role: key.definition.role, actor: .apiKey(id: key.id)))
            }
        }
        guard isUnixSocket else {
            return .failure(.unauthenticated("missing", "an API key is required on TCP (the handshake's credential); see docs/security.md"))
        }
        guard let uid = peerUid else {
            return .failure(.unauthenticated("missing", "the peer's user id is unknown; send an API key"))
        }
        if uid == configuration.socketOwnerUid {
            let tenantId = requested.isEmpty ? Tenant.defaultId : requested
            guard NameRules.isValidEventName(tenantId) else {
                // Not a credential problem: a plain protocol refusal (GOAWAY code 0, no delay, not counted).
                return .failure(Failure(refusal: HandshakeRefusal(nil, "tenant id \"\(tenantId.prefix(64))\" is invalid: use 1-64 characters of a-z, 0-9, '_', '.', '-'"),
                                        reason: "invalid_tenant"))
            }
            return .success(Principal(tenantId: tenantId, role: .admin, actor: .localUser(uid: uid)))
        }
        if let rule = configuration.peerRules[uid] {
            if !requested.isEmpty && requested != rule.tenantId {
                return .failure(Failure(refusal: HandshakeRefusal(.permissionDenied,
                    "local user \(uid) may act for tenant \(rule.tenantId) only, not \(requested.prefix(64))"), reason: "wrong_tenant"))
            }
            return .success(Principal(tenantId: rule.tenantId, role: rule.role, actor: .localUser(uid: uid)))
        }
        return .failure(.unauthenticated("missing", "local user \(uid) needs an API key (or a --peer-access mapping)"))
    }

    /// Another node forwarding with the cluster secret: accepted for the tenant it names (the
    /// original client's), refused without a secret here or with another one.
    private func decideClusterPeer(_ presented: Substring, tenantId requested: String) -> Result<Principal, Failure> {
        guard !configuration.clusterSecrets.isEmpty else {
            return .failure(.unauthenticated("cluster_secret_off", "this node accepts no cluster credential: it was started without --cluster-secret-file (docs/cluster.md)"))
        }
        // Every secret is compared (no early exit), so the time taken does not say which matched.
        let matched = configuration.clusterSecrets.map { ClusterCredential.matches(presented, secret: $0) }.contains(true)
        guard presented.utf8.count <= ApiKeySecret.maximumCredentialBytes, matched else {
            return .failure(.unauthenticated("cluster_secret_wrong", "wrong cluster credential: every node must be given the same --cluster-secret-file"))
        }
        guard NameRules.isValidEventName(requested) else {
            return .failure(Failure(refusal: HandshakeRefusal(nil, "a forwarded connection names its tenant: 1-64 characters of a-z, 0-9, '_', '.', '-', got \"\(requested.prefix(64))\""),
                                    reason: "invalid_tenant"))
        }
        var principal = Principal(tenantId: requested, role: .admin, actor: .bootstrap)
        principal.clusterPeer = true
        principal.forwarded = true
        return .success(principal)
    }

    /// The methods a cluster credential may call: those a node forwards.
    static let forwardedMethods: Set<UInt16> = Set([MethodID.ingest, .ingestBatch, .queryUsage, .currentUsage, .checkEntitlement, .listNotifications].map(\.rawValue))

    // MARK: Requests

    /// Why `principal` may not call `method` now (its key was revoked, or its role does not
    /// allow the method), as the reply to send instead; nil when it may.
    func refusal(for principal: Principal, method: UInt16) -> RPCReply? {
        if let keyId = principal.keyId, keys.isRevoked(keyId: keyId) {
            failed("revoked", message: "request with revoked API key \(keyId)", peer: "open connection")
            return RPCFailure(.unauthenticated, "API key \(keyId) was revoked; connect again with another key").reply
        }
        if principal.clusterPeer, !Self.forwardedMethods.contains(method) {
            let name = MethodID(rawValue: method)?.name ?? "method \(method)"
            metrics.permissionDenied(method: name)
            return RPCFailure(.permissionDenied, "a cluster credential only forwards Ingest, IngestBatch, QueryUsage, CurrentUsage, CheckEntitlement and ListNotifications, not \(name)").reply
        }
        guard RolePermissions.allows(principal.role, method: method) else {
            let name = MethodID(rawValue: method)?.name ?? "method \(method)"
            metrics.permissionDenied(method: name)
            return RPCFailure(.permissionDenied, "role \(principal.role) does not allow \(name)").reply
        }
        return nil
    }

    // MARK: Counting and logging

    private func failed(_ reason: String, message: String, peer: String) {
        metrics.authenticationFailed(reason: reason)
        let now = ContinuousClock.now
        let due = logState.withLockedValue { state -> Int? in
            state.notLogged += 1
            if let last = state.lastLine, now - last < Self.logInterval { return nil }
            state.lastLine = now
            defer { state.notLogged = 0 }
            return state.notLogged
        }
        guard let due else { return }
        logger.warning("authentication failed", metadata: [
            "failures": "\(due)", "reason": "\(reason)", "detail": "\(message)", "peer": "\(peer)",
        ])
    }
}
