/// The secret that keys the exactly-once index's fingerprints (128 bits, SipHash-2-4's key).
///
/// Event ids are remembered as 128-bit keyed fingerprints of (tenant, event id), not as the ids
/// themselves. Keyed by a random secret of the data directory, no client can choose ids whose
/// fingerprints collide (it would have to know the key), so the chance that two distinct ids share
/// a fingerprint is the birthday bound of random 128-bit values: about n²/2^129 for n ids, below
/// 1.5e-19 for 10^10 ids (docs/architecture.md). MeterEngine creates the key once per data
/// directory (the `dedup-key` file) and passes it in through `MeterCoreConfiguration.dedupKey`.
///
/// `.unkeyed` (all zero) is for tests and tools that never face untrusted clients.
public struct DedupKey: Hashable, Sendable, CustomStringConvertible {
    public var first: UInt64
    public var second: UInt64

    public init(first: UInt64, second: UInt64) {
        self.first = first
        self.second = second
    }

    /// The all-zero key: deterministic and public, so not for a server facing untrusted clients.
    public static let unkeyed = DedupKey(first: 0, second: 0)

    /// A fresh key from the system's cryptographic random source.
    public static func random() -> DedupKey {
        var generator = SystemRandomNumberGenerator()
        return DedupKey(first: generator.next(), second: generator.next())
    }

    /// The key as 32 lowercase hex digits (how the `dedup-key` file stores it).
    public var hexadecimal: String {
        func hex(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        return hex(first) + hex(second)
    }

    /// Parses 32 hex digits; nil for anything else.
    public init?(hexadecimal text: some StringProtocol) {
        guard text.utf8.count == 32, text.utf8.allSatisfy({ byte in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
        }) else { return nil }
        let characters = Array(text)
        guard let first = UInt64(String(characters[0..<16]), radix: 16),
              let second = UInt64(String(characters[16..<32]), radix: 16) else { return nil }
        self.init(first: first, second: second)
    }

    /// Never the key itself: it must not end up in logs.
    public var description: String { "DedupKey(check \(String(checkValue, radix: 16)))" }

    /// A 64-bit value derived from the key that a snapshot stores, so that a snapshot is never
    /// loaded with a different key (its fingerprints would not match the new ones).
    public var checkValue: UInt64 {
        var hasher = SipHasher128(key: self)
        for byte in "meterd dedup key check".utf8 { hasher.append(byte) }
        return UInt64(truncatingIfNeeded: hasher.finalize())
    }
}
