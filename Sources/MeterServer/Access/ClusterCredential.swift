import Crypto
import Foundation

/// Partitioned cluster mode across machines (docs/cluster.md, "Forwarding"): the credential a
/// node presents when it forwards a request to a partition's owner, built from the cluster
/// secret every node is given (`--cluster-secret-file`). The owner accepts it for any tenant the
/// handshake names (the original client's tenant), for the forwarded methods only (ingest and
/// usage queries), and compares it in constant time.
public enum ClusterCredential {
    /// What starts a cluster credential in the handshake (API keys start with `mk_`).
    public static let prefix = "meterd-cluster:"
    /// Bounds of the secret, in bytes: long enough not to be guessed, short enough to fit the
    /// handshake's credential (256 bytes).
    public static let secretBytes = 32...200

    /// The handshake credential for `secret`.
    public static func credential(secret: String) -> String { prefix + secret }

    /// Why `secret` cannot be the cluster secret; nil when it can (printable ASCII, 32-200 bytes).
    public static func problem(_ secret: String) -> String? {
        guard secretBytes.contains(secret.utf8.count) else {
            return "the cluster secret must be \(secretBytes.lowerBound) to \(secretBytes.upperBound) bytes, got \(secret.utf8.count) (for example: openssl rand -hex 32)"
        }
        guard secret.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return "the cluster secret must be printable ASCII without spaces (for example: openssl rand -hex 32)"
        }
        return nil
    }

    /// Whether `presented` (the credential after `prefix`) is `secret`, in time that does not
    /// depend on where they differ, nor on their lengths (both are hashed first).
    static func matches(_ presented: Substring, secret: String) -> Bool {
        let left = SHA256.hash(data: Array(presented.utf8)), right = SHA256.hash(data: Array(secret.utf8))
        var difference: UInt8 = 0
        for (a, b) in zip(left, right) { difference |= a ^ b }
        return difference == 0
    }
}
