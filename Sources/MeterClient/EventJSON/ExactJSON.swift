/// A JSON value whose numbers keep the exact text they were written with.
///
/// Foundation's JSON reader turns `25.5` into a `Double`, and billing quantities must never pass
/// through binary floating point. This reader keeps a number as its original characters
/// (`"25.5"`, `"1e3"`, `"123456789012345678901234"`), validated against the JSON grammar, so the
/// server can parse it exactly.
public enum ExactJSONValue: Hashable, Sendable {
    case string(String)
    /// A number's text exactly as written, e.g. `-0.000000001` or `1E+3`.
    case number(String)
    case bool(Bool)
    case null
    case array([ExactJSONValue])
    /// Members in document order; duplicate keys are refused by the parser.
    case object([ExactJSONMember])

    /// What kind of value this is, for error messages ("an object", "a number", ...).
    public var kindDescription: String {
        switch self {
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// One `"key": value` pair of a JSON object.
public struct ExactJSONMember: Hashable, Sendable {
    public var key: String
    public var value: ExactJSONValue

    public init(key: String, value: ExactJSONValue) {
        self.key = key
        self.value = value
    }
}

/// Malformed JSON: what is wrong, and at which byte (1-based column) of the text.
public struct ExactJSONError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    /// 1-based byte offset into the parsed text.
    public var column: Int

    public init(message: String, column: Int) {
        self.message = message
        self.column = column
    }

    public var description: String { "column \(column): \(message)" }
}

/// A strict RFC 8259 JSON reader that keeps numbers exact (see ``ExactJSONValue``).
public enum ExactJSON {
    /// Deepest nesting of arrays and objects accepted; deeper input is refused, not recursed into.
    public static let maximumDepth = 64

    /// Parses one JSON text (surrounding whitespace allowed, nothing else after the value).
    public static func parse(_ bytes: some Collection<UInt8>) throws(ExactJSONError) -> ExactJSONValue {
        var reader = Reader(bytes: Array(bytes))
        reader.skipWhitespace()
        let value = try reader.readValue(depth: 0)
        reader.skipWhitespace()
        guard reader.isAtEnd else {
            throw reader.error("unexpected \(reader.describeNext()) after the JSON value")
        }
        return value
    }

    /// Parses one JSON text given as a string.
    public static func parse(_ text: String) throws(ExactJSONError) -> ExactJSONValue {
        try parse(Array(text.utf8))
    }
}

/// A cursor over the bytes of one JSON text.
private struct Reader {
    let bytes: [UInt8]
    var position = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { position >= bytes.count }

    func error(_ message: String, at offset: Int? = nil) -> ExactJSONError {
        ExactJSONError(message: message, column: (offset ?? position) + 1)
    }

    func describeNext() -> String {
        guard position < bytes.count else { return "end of line" }
        let byte = bytes[position]
        if byte >= 0x21, byte < 0x7F {
            return "'\(Character(Unicode.Scalar(byte)))'"
        }
        return "byte 0x\(String(byte, radix: 16))"
    }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): position += 1
            default: return
            }
        }
    }

    mutating func expect(_ literal: String, value: ExactJSONValue) throws(ExactJSONError) -> ExactJSONValue {
        let start = position
        for byte in literal.utf8 {
            guard position < bytes.count, bytes[position] == byte else {
                throw error("invalid literal (expected \(literal))", at: start)
            }
            position += 1
        }
        return value
    }

    mutating func readValue(depth: Int) throws(ExactJSONError) -> ExactJSONValue {
        guard position < bytes.count else { throw error("expected a value, found end of line") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try readObject(depth: depth + 1)
        case UInt8(ascii: "["): return try readArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "t"): return try expect("true", value: .bool(true))
        case UInt8(ascii: "f"): return try expect("false", value: .bool(false))
        case UInt8(ascii: "n"): return try expect("null", value: .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try readNumber())
        default: throw error("expected a value, found \(describeNext())")
        }
    }

    mutating func readObject(depth: Int) throws(ExactJSONError) -> ExactJSONValue {
        var members: [ExactJSONMember] = []
        var keys: Set<String> = []
        try readContainer(closing: "}", named: "object", depth: depth) { reader throws(ExactJSONError) in
            guard reader.position < reader.bytes.count, reader.bytes[reader.position] == UInt8(ascii: "\"") else {
                throw reader.error("expected a quoted key, found \(reader.describeNext())")
            }
            let keyStart = reader.position
            let key = try reader.readString()
            guard keys.insert(key).inserted else { throw reader.error("duplicate key \"\(key)\"", at: keyStart) }
            reader.skipWhitespace()
            guard reader.position < reader.bytes.count, reader.bytes[reader.position] == UInt8(ascii: ":") else {
                throw reader.error("expected ':' after the key \"\(key)\", found \(reader.describeNext())")
            }
            reader.position += 1
            reader.skipWhitespace()
            members.append(ExactJSONMember(key: key, value: try reader.readValue(depth: depth)))
        }
        return .object(members)
    }

    mutating func readArray(depth: Int) throws(ExactJSONError) -> ExactJSONValue {
        var elements: [ExactJSONValue] = []
        try readContainer(closing: "]", named: "array", depth: depth) { reader throws(ExactJSONError) in
            elements.append(try reader.readValue(depth: depth))
        }
        return .array(elements)
    }

    /// Reads an object or array from its opening bracket to `closing`: `readItem` reads each
    /// member or element (whitespace before it skipped), separated by commas; empty is allowed.
    private mutating func readContainer(closing: Unicode.Scalar, named container: String, depth: Int,
                                        _ readItem: (inout Self) throws(ExactJSONError) -> Void) throws(ExactJSONError) {
        guard depth <= ExactJSON.maximumDepth else { throw error("nested deeper than \(ExactJSON.maximumDepth) levels") }
        position += 1  // { or [
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: closing) {
            position += 1
            return
        }
        repeat {
            skipWhitespace()
            try readItem(&self)
        } while try !readSeparatorOrEnd(closing, of: container)
    }

    /// After an object member or array element: reads the ',' before the next one (false) or
    /// the `closing` bracket that ends the container (true).
    private mutating func readSeparatorOrEnd(_ closing: Unicode.Scalar, of container: String) throws(ExactJSONError) -> Bool {
        skipWhitespace()
        guard position < bytes.count else { throw error("unterminated \(container): expected ',' or '\(closing)'") }
        switch bytes[position] {
        case UInt8(ascii: ","):
            position += 1
            return false
        case UInt8(ascii: closing):
            position += 1
            return true
        default:
            throw error("expected ',' or '\(closing)' in the \(container), found \(describeNext())")
        }
    }

    /// Reads a number and returns its text exactly, after checking the JSON number grammar:
    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    mutating func readNumber() throws(ExactJSONError) -> String {
        let start = position
        func isDigit(_ index: Int) -> Bool {
            index < bytes.count && bytes[index] >= UInt8(ascii: "0") && bytes[index] <= UInt8(ascii: "9")
        }
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard isDigit(position) else { throw error("a number needs a digit after '-'", at: start) }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
            if isDigit(position) { throw error("a number must not have leading zeros", at: start) }
        } else {
            while isDigit(position) { position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard isDigit(position) else { throw error("a number needs digits after '.'", at: start) }
            while isDigit(position) { position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard isDigit(position) else { throw error("a number needs digits in its exponent", at: start) }
            while isDigit(position) { position += 1 }
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    /// Reads a quoted string, decoding escapes (`\"` `\\` `\/` `\b` `\f` `\n` `\r` `\t` `\uXXXX`,
    /// with surrogate pairs) and checking that the text is valid UTF-8 without raw control characters.
    mutating func readString() throws(ExactJSONError) -> String {
        let start = position
        position += 1  // opening quote
        var decoded: [UInt8] = []
        var runStart = position
        while true {
            guard position < bytes.count else { throw error("unterminated string", at: start) }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                decoded.append(contentsOf: bytes[runStart..<position])
                position += 1
                break
            }
            if byte < 0x20 {
                throw error("raw control character 0x\(String(byte, radix: 16)) in a string (write it as an escape)")
            }
            if byte != UInt8(ascii: "\\") {
                position += 1
                continue
            }
            decoded.append(contentsOf: bytes[runStart..<position])
            let escapeStart = position
            position += 1
            guard position < bytes.count else { throw error("unterminated escape in a string", at: escapeStart) }
            let escaped = bytes[position]
            position += 1
            switch escaped {
            case UInt8(ascii: "\""): decoded.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): decoded.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "/"): decoded.append(UInt8(ascii: "/"))
            case UInt8(ascii: "b"): decoded.append(0x08)
            case UInt8(ascii: "f"): decoded.append(0x0C)
            case UInt8(ascii: "n"): decoded.append(0x0A)
            case UInt8(ascii: "r"): decoded.append(0x0D)
            case UInt8(ascii: "t"): decoded.append(0x09)
            case UInt8(ascii: "u"):
                let scalar = try readUnicodeEscape(escapeStart: escapeStart)
                decoded.append(contentsOf: String(Character(scalar)).utf8)
            default:
                throw error("invalid escape '\\\(Character(Unicode.Scalar(escaped)))' in a string", at: escapeStart)
            }
            runStart = position
        }
        guard let text = String(validating: decoded, as: UTF8.self) else {
            throw error("a string is not valid UTF-8", at: start)
        }
        return text
    }

    /// Reads the `XXXX` after `\u` (and a following `\uXXXX` low surrogate when needed).
    mutating func readUnicodeEscape(escapeStart: Int) throws(ExactJSONError) -> Unicode.Scalar {
        let high = try readHexQuad(escapeStart: escapeStart)
        if (0xD800...0xDBFF).contains(high) {
            guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                throw error("unpaired surrogate \\u\(String(high, radix: 16)) in a string", at: escapeStart)
            }
            position += 2
            let low = try readHexQuad(escapeStart: escapeStart)
            guard (0xDC00...0xDFFF).contains(low) else {
                throw error("unpaired surrogate \\u\(String(high, radix: 16)) in a string", at: escapeStart)
            }
            return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!
        }
        guard let scalar = Unicode.Scalar(high) else {
            throw error("unpaired surrogate \\u\(String(high, radix: 16)) in a string", at: escapeStart)
        }
        return scalar
    }

    mutating func readHexQuad(escapeStart: Int) throws(ExactJSONError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw error("\\u needs four hex digits", at: escapeStart) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("\\u needs four hex digits", at: escapeStart)
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }
}
