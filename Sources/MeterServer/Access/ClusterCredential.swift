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

    /// Why a `--cluster-secret-file` cannot be used.
    public struct FileProblem: Error, CustomStringConvertible {
        public let description: String
    }

    /// The secrets of a `--cluster-secret-file`: one line, or two during a rotation (the first
    /// is the one this node forwards with; both are accepted). A final line end (LF or CRLF)
    /// is ignored; an empty line, a third line or a secret that `problem` refuses is an error.
    public static func secrets(fileContents: [UInt8]) throws(FileProblem) -> [String] {
        var lines = fileContents.split(separator: 10, omittingEmptySubsequences: false).map { line -> ArraySlice<UInt8> in
            line.last == 13 ? line.dropLast() : line
        }
        if lines.count > 1, lines.last?.isEmpty == true { lines.removeLast() }
        guard (1...2).contains(lines.count) else {
            throw FileProblem(description: "it must hold one secret, or two (one a line) while rotating, got \(lines.count) lines")
        }
        return try lines.enumerated().map { (index, line) throws(FileProblem) -> String in
            guard let secret = String(bytes: line, encoding: .utf8) else { throw FileProblem(description: "the cluster secret must be printable ASCII") }
            if let problem = problem(secret) { throw FileProblem(description: lines.count == 1 ? problem : "line \(index + 1): \(problem)") }
            return secret
        }
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
