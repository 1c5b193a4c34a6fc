/// What `MeterState.count` reads of an event, so that one counting code path serves both a
/// decoded `UsageEvent` (the writer) and an event read in place from a log record's bytes
/// (`EncodedEventView`, replay): the same rules by construction, hence the same state.
protocol MeterEvent {
    var timestampMilliseconds: Int64 { get }
    /// Whether the event carries `key` and its canonical text is one of `values`.
    func passesFilter(_ key: PropertyKey, values: StringTable<Bool>) -> Bool
    /// `numericValue.units` of property `key`; nil when absent or not a number.
    func numericUnits(_ key: PropertyKey) -> Int128?
    /// `canonicalText` of property `key`; nil when absent.
    func canonicalText(_ key: PropertyKey) -> String?
}

/// A property key a meter reads (filter, aggregated field, group-by key), as text and as its
/// UTF-8 bytes (property keys are ASCII, so the two compare alike).
struct PropertyKey {
    let text: String
    let utf8: [UInt8]

    init(_ text: String) {
        self.text = text
        utf8 = Array(text.utf8)
    }
}

extension UsageEvent: MeterEvent {
    @inline(__always)
    func passesFilter(_ key: PropertyKey, values: StringTable<Bool>) -> Bool {
        guard let value = property(key.text) else { return false }
        return values.contains(value.canonicalText)
    }

    @inline(__always)
    func numericUnits(_ key: PropertyKey) -> Int128? {
        property(key.text)?.numericValue?.units
    }

    @inline(__always)
    func canonicalText(_ key: PropertyKey) -> String? {
        property(key.text)?.canonicalText
    }
}
