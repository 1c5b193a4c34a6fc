import Foundation
import MeterClient
import MeterProto
import MeterWire
import MeterWireServer
import SwiftProtobuf

/// Partitioned cluster mode (docs/cluster.md, "Forwarding"): sends the requests for a partition
/// this node does not hold to its owner, with the binary client, acting for the same tenant.
///
/// One connection per (owner address, tenant), opened on first use and dropped when it fails.
/// The owner's address is the one in its lease: a Unix socket path (nodes on one machine: the
/// connection authenticates as meterd's own user, which the owner accepts as admin of the
/// requested tenant) or HOST:PORT (other machines: needs `credential`, a key the owner accepts
/// for that tenant; without one the owner refuses the handshake and the request fails
/// UNAVAILABLE naming the owner). The client name starts with `meterd-forward`: the owner
/// answers or refuses such requests and never forwards them again, so a stale view of the
/// leases cannot bounce a request between nodes.
public final class PartitionForwarder: @unchecked Sendable {
    /// The handshake client name of forwarding connections.
    public static let clientNamePrefix = "meterd-forward"

    private let nodeName: String
    private let credential: String
    private let tls: MeterClientTLS?
    private let lock = NSLock()
    private var clients: [Key: MeterClient] = [:]

    private struct Key: Hashable {
        var address: String
        var tenantId: String
    }

    /// - Parameters:
    ///   - credential: the handshake credential of every forwarding connection (the cluster
    ///     credential, `ClusterCredential`; empty: none, enough for Unix-socket owners).
    ///   - tls: TLS for owners on TCP (Unix-socket owners never use it).
    public init(nodeName: String, credential: String = "", tls: ForwardingTLS? = nil) {
        self.nodeName = nodeName
        self.credential = credential
        self.tls = tls.map { MeterClientTLS(certificateAuthorityPath: $0.certificateAuthorityPath, certificateChainPath: $0.certificateChainPath, privateKeyPath: $0.privateKeyPath) }
    }

    /// Why `address` cannot be where other nodes forward to; nil when it can. A TCP address
    /// needs the cluster secret (the owner accepts forwarded requests over TCP only with it).
    public static func addressProblem(_ address: String, hasSecret: Bool) -> String? {
        guard let parsed = MeterAddress(parsing: address) else { return "\"\(address)\" is neither a Unix socket path nor HOST:PORT" }
        if case .tcp = parsed, !hasSecret {
            return "\(address) is a TCP address: forwarding over TCP needs --cluster-secret-file (the same secret on every node; docs/cluster.md)"
        }
        return nil
    }

    /// Calls `method` on the owner at `address` for `tenantId`; a failure is an RPCFailure with
    /// the owner's status, or UNAVAILABLE naming the owner when it could not be reached.
    func call<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: MethodID, _ request: Request, as: Response.Type, owner: String, address: String, tenantId: String
    ) async throws(RPCFailure) -> Response {
        let key = Key(address: address, tenantId: tenantId)
        let client: MeterClient
        do {
            client = try await connection(key)
        } catch {
            throw RPCFailure(.unavailable, "cannot forward to \(owner) at \(address), the owner of this customer's partition: \(error); retry")
        }
        do {
            return try await client.call(method, request, as: Response.self, timeout: .seconds(30))
        } catch {
            switch error {
            case .status(let code, let message, let reason):
                throw RPCFailure(code, message, reason: reason)
            default:
                drop(key, client)
                throw RPCFailure(.unavailable, "forwarding to \(owner) at \(address) failed: \(error); retry with the same event ids")
            }
        }
    }

    private func connection(_ key: Key) async throws -> MeterClient {
        if let client = lock.withLock({ clients[key] }) { return client }
        guard let address = MeterAddress(parsing: key.address) else { throw RPCFailure(.unavailable, "unusable owner address \(key.address)") }
        let client = try await MeterClient.connect(to: address, tenantId: key.tenantId, clientName: "\(Self.clientNamePrefix) \(nodeName)",
                                                   credential: credential, tls: tls, timeout: .seconds(5))
        let existing: MeterClient? = lock.withLock {
            if let existing = clients[key] { return existing }
            clients[key] = client
            return nil
        }
        if let existing {
            await client.close()
            return existing
        }
        return client
    }

    private func drop(_ key: Key, _ client: MeterClient) {
        let dropped = lock.withLock { () -> Bool in
            guard clients[key] === client else { return false }
            clients[key] = nil
            return true
        }
        if dropped { Task { await client.close() } }
    }

    /// Closes every connection.
    public func close() async {
        let all = lock.withLock { () -> [MeterClient] in
            let all = Array(clients.values)
            clients.removeAll()
            return all
        }
        for client in all { await client.close() }
    }
}

/// TLS of forwarding connections to owners on TCP (`--cluster-tls-ca`): the CA certificates the
/// owners' certificates must chain to, and this node's certificate and key when owners ask for
/// client certificates.
public struct ForwardingTLS: Sendable, Hashable {
    public var certificateAuthorityPath: String
    public var certificateChainPath: String?
    public var privateKeyPath: String?

    public init(certificateAuthorityPath: String, certificateChainPath: String? = nil, privateKeyPath: String? = nil) {
        self.certificateAuthorityPath = certificateAuthorityPath
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
    }
}
