import Crypto
import Foundation
import MeterCore

/// API key secrets: "mk_" and 43 base64url characters (32 random bytes, 256 bits). The server
/// keeps only the SHA-256 of the whole secret: with this much entropy a plain hash cannot be
/// reversed or guessed, so no salt or slow hash is needed (docs/security.md).
public enum ApiKeySecret {
    public static let prefix = "mk_"
    /// Random bytes in a secret.
    public static let randomBytes = 32
    /// Length of a well-formed secret.
    public static let length = prefix.utf8.count + 43
    /// Longest credential the server looks at; a longer one is refused unread.
    public static let maximumCredentialBytes = 256

    /// A new secret from the system's cryptographically secure generator (getrandom on Linux).
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<randomBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let base64 = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return prefix + base64
    }

    /// A key with a new secret: its definition, which holds only the secret's hash, and the
    /// secret itself (shown to its owner once).
    public static func newKey(tenantId: String, name: String, role: KeyRole) -> (definition: ApiKeyDefinition, secret: String) {
        let secret = generate()
        return (ApiKeyDefinition(tenantId: tenantId, name: name, role: role, secretHash: hash(secret)), secret)
    }

    /// The SHA-256 of `secret`'s UTF-8 bytes: what the log stores.
    public static func hash(_ secret: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(secret.utf8)))
    }

    /// Whether `credential` has the shape of a secret (prefix, length, alphabet).
    public static func isWellFormed(_ credential: String) -> Bool {
        let bytes = Array(credential.utf8)
        guard bytes.count == length, credential.hasPrefix(prefix) else { return false }
        return bytes.dropFirst(prefix.utf8.count).allSatisfy { byte in
            (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x5F
        }
    }
}
