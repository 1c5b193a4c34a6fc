/// A value carried by an event property: text, a whole number, an exact decimal or a boolean.
///
/// Filters, group-by keys and COUNT_UNIQUE compare properties by their `canonicalText`, so the
/// integer `1`, the decimal `1.0` and the string `"1"` are the same value to a filter. Numeric
/// aggregations read `numericValue`, which accepts integers, decimals and strings that parse as
/// exact decimals (a sidecar may only have text); booleans are never numeric.
public enum PropertyValue: Hashable, Sendable {
    case string(String)
    case integer(Int64)
    case decimal(ExactDecimal)
    case boolean(Bool)

    /// The text a filter value or a group value is compared with.
    public var canonicalText: String {
        switch self {
        case .string(let text): return text
        case .integer(let number): return String(number)
        case .decimal(let number): return number.description
        case .boolean(let flag): return flag ? "true" : "false"
        }
    }

    /// The exact number this value stands for, or nil when it is not a number.
    public var numericValue: ExactDecimal? {
        switch self {
        case .integer(let number): return ExactDecimal(number)
        case .decimal(let number): return number
        case .string(let text): return try? ExactDecimal(parsing: text)
        case .boolean: return nil
        }
    }
}

/// One named property of an event.
public struct EventProperty: Hashable, Sendable {
    public var key: String
    public var value: PropertyValue

    public init(key: String, value: PropertyValue) {
        self.key = key
        self.value = value
    }
}
