import MeterCore
import MeterProto
import MeterWire
@testable import MeterServer
import NIOCore
import NIOEmbedded
import XCTest

/// The authenticator's decisions without sockets, and the connection's handling of a refusal
/// (delayed GOAWAY carrying the status, then close) on an embedded event loop.
final class AuthenticatorTests: XCTestCase {
    static let secret = "mk_" + String(repeating: "b", count: 43)
    static let revokedSecret = "mk_" + String(repeating: "r", count: 43)

    static func authenticator(owner: UInt32? = 1000, rules: [UInt32: PeerAccessRule] = [:]) -> Authenticator {
        let keys = KeyStore(keys: [
            ApiKey(id: "key_1", definition: ApiKeyDefinition(tenantId: "acme", name: "a", role: .ingest, secretHash: ApiKeySecret.hash(secret)),
                   createdAtMilliseconds: 1, createdBy: .bootstrap),
            ApiKey(id: "key_2", definition: ApiKeyDefinition(tenantId: "acme", name: "r", role: .admin, secretHash: ApiKeySecret.hash(revokedSecret)),
                   createdAtMilliseconds: 1, createdBy: .bootstrap, revokedAtMilliseconds: 2),
        ])
        var configuration = AccessConfiguration()
        configuration.socketOwnerUid = owner
        configuration.peerRules = rules
        configuration.refusalDelay = .seconds(2)
        return Authenticator(keys: keys, configuration: configuration)
    }

    func testDecisions() throws {
        let authenticator = Self.authenticator(rules: [1001: PeerAccessRule(uid: 1001, tenantId: "globex", role: .read)])
        func decide(_ credential: String, tenant: String = "", uid: UInt32? = nil, unix: Bool = false) -> Result<Principal, Authenticator.Failure> {
            authenticator.decide(credential: credential, tenantId: tenant, peerUid: uid, isUnixSocket: unix)
        }
        XCTAssertEqual(try decide(Self.secret).get(), Principal(tenantId: "acme", role: .ingest, actor: .apiKey(id: "key_1")))
        XCTAssertEqual(try decide(Self.secret, tenant: "acme").get().tenantId, "acme")
        // A key wins over the peer uid, even the owner's; its tenant wins over the handshake's.
        XCTAssertEqual(try decide(Self.secret, uid: 1000, unix: true).get().role, .ingest)
        XCTAssertEqual(decide(Self.secret, tenant: "globex").failureReason, "wrong_tenant")
        XCTAssertEqual(decide(Self.revokedSecret).failureReason, "revoked")
        XCTAssertEqual(decide("mk_" + String(repeating: "c", count: 43)).failureReason, "unknown")
        XCTAssertEqual(decide(Self.secret + "=").failureReason, "malformed")
        XCTAssertEqual(decide("mk_" + String(repeating: "!", count: 43)).failureReason, "malformed")
        XCTAssertEqual(decide(String(repeating: "x", count: 257)).failureReason, "oversized")
        XCTAssertEqual(decide("", uid: 1000).failureReason, "missing", "a uid on TCP counts for nothing")
        XCTAssertEqual(try decide("", tenant: "anything", uid: 1000, unix: true).get(), Principal(tenantId: "anything", role: .admin, actor: .localUser(uid: 1000)))
        XCTAssertEqual(try decide("", uid: 1000, unix: true).get().tenantId, "default")
        let invalid = decide("", tenant: "Not A Tenant!", uid: 1000, unix: true)
        XCTAssertEqual(invalid.failureReason, "invalid_tenant")
        if case .failure(let failure) = invalid { XCTAssertNil(failure.refusal.status, "a protocol refusal, not a credential one") }
        XCTAssertEqual(try decide("", uid: 1001, unix: true).get(), Principal(tenantId: "globex", role: .read, actor: .localUser(uid: 1001)))
        XCTAssertEqual(decide("", tenant: "acme", uid: 1001, unix: true).failureReason, "wrong_tenant")
        XCTAssertEqual(decide("", uid: 1002, unix: true).failureReason, "missing")
        XCTAssertEqual(decide("", unix: true).failureReason, "missing")
        XCTAssertEqual(Self.authenticator(owner: nil).decide(credential: "", tenantId: "", peerUid: 1000, isUnixSocket: true).failureReason, "missing")
    }

    func testRequestsAreCheckedForRoleAndRevocation() {
        let authenticator = Self.authenticator()
        let ingest = Principal(tenantId: "acme", role: .ingest, actor: .apiKey(id: "key_1"))
        XCTAssertNil(authenticator.refusal(for: ingest, method: MethodID.ingestBatch.rawValue))
        XCTAssertEqual(authenticator.refusal(for: ingest, method: MethodID.createMeter.rawValue)?.status, .permissionDenied)
        let revoked = Principal(tenantId: "acme", role: .admin, actor: .apiKey(id: "key_2"))
        XCTAssertEqual(authenticator.refusal(for: revoked, method: MethodID.healthCheck.rawValue)?.status, .unauthenticated)
        let owner = Principal(tenantId: "x", role: .admin, actor: .localUser(uid: 1000))
        XCTAssertNil(authenticator.refusal(for: owner, method: MethodID.revokeApiKey.rawValue))
    }

    /// Partitioned cluster mode across machines: another node forwarding with the cluster secret
    /// acts for the tenant it names, for the forwarded methods only; a wrong secret, or a node
    /// that has none, refuses it.
    func testTheClusterCredentialActsForTheNamedTenantForForwardedMethodsOnly() throws {
        let secret = String(repeating: "s", count: 40)
        var configuration = AccessConfiguration()
        configuration.socketOwnerUid = nil
        configuration.clusterSecrets = [secret]
        let authenticator = Authenticator(keys: KeyStore(), configuration: configuration)
        let credential = ClusterCredential.credential(secret: secret)
        let principal = try authenticator.decide(credential: credential, tenantId: "acme", peerUid: nil, isUnixSocket: false).get()
        XCTAssertEqual(principal.tenantId, "acme")
        XCTAssertTrue(principal.clusterPeer)
        XCTAssertTrue(principal.forwarded, "a cluster peer's requests are never forwarded again")
        for method in [MethodID.ingest, .ingestBatch, .queryUsage, .currentUsage] {
            XCTAssertNil(authenticator.refusal(for: principal, method: method.rawValue), "\(method)")
        }
        for method in [MethodID.createMeter, .createApiKey, .revokeApiKey, .listMeters] {
            XCTAssertEqual(authenticator.refusal(for: principal, method: method.rawValue)?.status, .permissionDenied, "\(method)")
        }
        // Wrong secrets: another one, a prefix of it, a longer one, an empty one.
        for wrong in [String(repeating: "t", count: 40), String(secret.dropLast()), secret + "s", ""] {
            XCTAssertEqual(authenticator.decide(credential: ClusterCredential.prefix + wrong, tenantId: "acme", peerUid: nil, isUnixSocket: false).failureReason,
                           "cluster_secret_wrong", wrong)
        }
        XCTAssertEqual(authenticator.decide(credential: credential, tenantId: "", peerUid: nil, isUnixSocket: false).failureReason, "invalid_tenant")
        // A node without the secret accepts no cluster credential, even on its Unix socket.
        XCTAssertEqual(Self.authenticator().decide(credential: credential, tenantId: "acme", peerUid: 1000, isUnixSocket: true).failureReason, "cluster_secret_off")
        // Secrets too short, too long, with spaces are refused at start.
        XCTAssertNil(ClusterCredential.problem(secret))
        XCTAssertNotNil(ClusterCredential.problem(String(repeating: "s", count: 31)))
        XCTAssertNotNil(ClusterCredential.problem(String(repeating: "s", count: 201)))
        XCTAssertNotNil(ClusterCredential.problem(String(repeating: "s ", count: 20)))
        XCTAssertLessThanOrEqual(ClusterCredential.credential(secret: String(repeating: "s", count: 200)).utf8.count, ApiKeySecret.maximumCredentialBytes)
    }

    /// Rotating the cluster secret node by node: a file of two secrets accepts both and forwards
    /// with the first, so nodes with either file accept each other's forwards.
    func testTwoClusterSecretsAreBothAcceptedDuringARotation() throws {
        let old = String(repeating: "o", count: 40), new = String(repeating: "n", count: 40)
        XCTAssertEqual(try ClusterCredential.secrets(fileContents: Array("\(old)\n".utf8)), [old])
        XCTAssertEqual(try ClusterCredential.secrets(fileContents: Array("\(new)\r\n\(old)\r\n".utf8)), [new, old])
        for bad in ["", "\n", "\(old)\n\(new)\n\(old)\n", "\(old)\n\nx", "\(old)\nshort\n"] {
            XCTAssertThrowsError(try ClusterCredential.secrets(fileContents: Array(bad.utf8)), bad.debugDescription)
        }
        var configuration = AccessConfiguration()
        configuration.socketOwnerUid = nil
        configuration.clusterSecrets = try ClusterCredential.secrets(fileContents: Array("\(new)\n\(old)\n".utf8))
        let authenticator = Authenticator(keys: KeyStore(), configuration: configuration)
        for secret in [old, new] {
            let principal = try authenticator.decide(credential: ClusterCredential.credential(secret: secret), tenantId: "acme", peerUid: nil, isUnixSocket: false).get()
            XCTAssertTrue(principal.clusterPeer, secret)
        }
        XCTAssertEqual(authenticator.decide(credential: ClusterCredential.credential(secret: String(repeating: "t", count: 40)), tenantId: "acme",
                                            peerUid: nil, isUnixSocket: false).failureReason, "cluster_secret_wrong")
    }

    func testSecretsHaveTheirShapeAndHashes() {
        let first = ApiKeySecret.generate()
        XCTAssertTrue(ApiKeySecret.isWellFormed(first), first)
        XCTAssertNotEqual(first, ApiKeySecret.generate())
        XCTAssertEqual(ApiKeySecret.hash(first).count, 32)
        // SHA-256("abc"), the FIPS 180-2 example.
        XCTAssertEqual(ApiKeySecret.hash("abc").map { String(format: "%02x", $0) }.joined(),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}

extension Result where Failure == Authenticator.Failure {
    var failureReason: String? {
        if case .failure(let failure) = self { return failure.reason }
        return nil
    }
}
