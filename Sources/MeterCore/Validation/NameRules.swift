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
        var count = 0
        for byte in name.utf8 {
            let isLowerOrDigit = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
            if count == 0 {
                guard isLowerOrDigit else { return false }
            } else {
                guard isLowerOrDigit || byte == 0x5F || byte == 0x2E || byte == 0x2D else { return false }
            }
            count += 1
            if count > eventNameMaximumBytes { return false }
        }
        return count > 0
    }

    /// Whether `key` is a valid property key.
    @inlinable
    public static func isValidPropertyKey(_ key: String) -> Bool {
        var count = 0
        for byte in key.utf8 {
            let isAlphanumeric = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A)
                || (byte >= 0x30 && byte <= 0x39) || byte == 0x5F
            if count == 0 {
                guard isAlphanumeric else { return false }
            } else {
                guard isAlphanumeric || byte == 0x2E || byte == 0x2D else { return false }
            }
            count += 1
            if count > propertyKeyMaximumBytes { return false }
        }
        return count > 0
    }

    /// Whether `text` is 1...maximumBytes UTF-8 bytes without control characters.
    @inlinable
    public static func isValidIdentifier(_ text: String, maximumBytes: Int) -> Bool {
        var count = 0
        for byte in text.utf8 {
            if byte < 0x20 || byte == 0x7F { return false }
            count += 1
        }
        return count > 0 && count <= maximumBytes
    }

    static let eventNameRule = "1-64 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit"
    static let propertyKeyRule = "1-64 characters of A-Z, a-z, 0-9, '_', '.', '-', starting with a letter, digit or '_'"
}
