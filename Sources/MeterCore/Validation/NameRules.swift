/// The textual rules for names and identifiers, in one place so the docs, the validators and
/// the error messages agree.
///
/// - Event names and tenant ids: 1–64 bytes, `[a-z0-9][a-z0-9_.-]*` (lower case, so that
///   `Tokens_Used` and `tokens_used` can never be two meters).
/// - Property keys (filters, aggregation fields, group-by keys): 1–64 bytes,
///   `[A-Za-z0-9_][A-Za-z0-9_.-]*`.
/// - Event ids, customer ids and sources: 1 byte up to the configured limit, any UTF-8 text
///   without control characters.
public enum NameRules {
    public static let eventNameMaximumBytes = 64
    public static let propertyKeyMaximumBytes = 64
    public static let displayNameMaximumCharacters = 128
    public static let filtersMaximumCount = 16
    public static let filterValuesMaximumCount = 64
    public static let groupByMaximumCount = 4

    /// Whether `name` is a valid event name (and tenant id).
    @inlinable
    public static func isValidEventName(_ name: String) -> Bool {
        withUTF8(name) { bytes in
            guard let first = bytes.first, bytes.count <= eventNameMaximumBytes, isLowerOrDigit(first) else { return false }
            for byte in bytes.dropFirst() {
                guard isLowerOrDigit(byte) || byte == 0x5F || byte == 0x2E || byte == 0x2D else { return false }
            }
            return true
        }
    }

    /// Whether `key` is a valid property key.
    @inlinable
    public static func isValidPropertyKey(_ key: String) -> Bool {
        withUTF8(key) { bytes in
            guard let first = bytes.first, bytes.count <= propertyKeyMaximumBytes, isAlphanumericOrUnderscore(first) else { return false }
            for byte in bytes.dropFirst() {
                guard isAlphanumericOrUnderscore(byte) || byte == 0x2E || byte == 0x2D else { return false }
            }
            return true
        }
    }

    /// Whether `text` is 1...maximumBytes UTF-8 bytes without control characters.
    @inlinable
    public static func isValidIdentifier(_ text: String, maximumBytes: Int) -> Bool {
        withUTF8(text) { bytes in
            guard !bytes.isEmpty, bytes.count <= maximumBytes else { return false }
            return !containsControlByte(bytes)
        }
    }

    /// Whether some byte is below 0x20 or is 0x7F (DEL), eight bytes per step. For a word `x`,
    /// `(x - 0x2020…20) & ~x & 0x8080…80` is non-zero exactly when some byte of `x` is below
    /// 0x20, and the same test against 0x01 on `x ^ 0x7F7F…7F` finds a byte equal to 0x7F
    /// (the "hasless" and "haszero" tests of Hacker's Delight; exact as yes/no answers).
    @inlinable
    static func containsControlByte(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var index = 0
        if let base = bytes.baseAddress {
            let raw = UnsafeRawPointer(base)
            while index + 8 <= bytes.count {
                let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                let below = (word &- 0x20 &* ones) & ~word
                let delete = word ^ (0x7F &* ones)
                if (below | ((delete &- ones) & ~delete)) & highs != 0 { return true }
                index += 8
            }
        }
        while index < bytes.count {
            if bytes[index] < 0x20 || bytes[index] == 0x7F { return true }
            index += 1
        }
        return false
    }

    /// Runs `body` on the UTF-8 bytes of `text`, in place: iterating `String.utf8` byte by byte
    /// cost about 20 instructions per byte on the ingest path, a buffer about 3.
    @inlinable @inline(__always)
    static func withUTF8<Result>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        var text = text
        return text.withUTF8(body)
    }

    @inlinable @inline(__always)
    static func isLowerOrDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
    }

    @inlinable @inline(__always)
    static func isAlphanumericOrUnderscore(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5F
    }

    static let eventNameRule = "1-64 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit"
    static let propertyKeyRule = "1-64 characters of A-Z, a-z, 0-9, '_', '.', '-', starting with a letter, digit or '_'"
}
