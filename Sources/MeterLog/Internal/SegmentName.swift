/// Segment file names: `log-<first sequence as 20 zero-padded digits>.wal`. Twenty digits
/// hold any 64-bit sequence, so lexical and numeric order agree.
enum SegmentName {
    static let prefix = "log-"
    static let suffix = ".wal"

    static func make(firstSequence: UInt64) -> String {
        prefix + zeroPadded(firstSequence) + suffix
    }

    /// The first sequence a segment file name declares, or nil if `name` is not a segment
    /// (copies such as `log-...wal.torn-4096` are not).
    static func firstSequence(of name: String) -> UInt64? {
        parseZeroPadded(name, prefix: prefix, suffix: suffix)
    }
}

/// `value` as 20 decimal digits with leading zeros.
func zeroPadded(_ value: UInt64) -> String {
    let digits = String(value)
    return String(repeating: "0", count: 20 - digits.count) + digits
}

/// The number in `prefix<20 digits>suffix`, or nil if `name` has another shape.
func parseZeroPadded(_ name: String, prefix: String, suffix: String) -> UInt64? {
    guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
    let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
    guard digits.count == 20, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }) else { return nil }
    return UInt64(digits)
}
