import Crypto

/// The signature header of a webhook delivery: `Meterd-Signature: sha256=<hex>`, the lower-case
/// hex HMAC-SHA256 of the exact request body under the shared secret. A receiver recomputes it
/// over the raw body and compares in constant time (docs/entitlements.md has a Python example).
public enum WebhookSignature {
    public static let headerName = "Meterd-Signature"
    public static let deliveryHeaderName = "Meterd-Delivery"

    public static func value(body: [UInt8], secret: [UInt8]) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: secret))
        return "sha256=" + code.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
