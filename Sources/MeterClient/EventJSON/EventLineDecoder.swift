import MeterProto

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why one line of NDJSON is not a usable event.
public struct EventLineError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Turns one line of NDJSON into a `Meterd_V1_Event`, keeping every number exact.
///
/// The shape of a line:
///
/// ```json
/// {"event_id": "evt-1", "event_name": "tokens_used", "customer_id": "cust-42",
///  "timestamp": "2026-01-31T12:00:00Z", "properties": {"model": "llama3.1", "tokens": 25.5},
///  "source": "api"}
/// ```
///
/// - `event_id`, `event_name` and `customer_id` are required strings (a JSON number is taken as
///   its digits, for ids exported as numbers).
/// - `timestamp` is an RFC 3339 string or an integer of Unix milliseconds; missing or null
///   means now.
/// - `properties` is an object of strings, numbers and booleans. A number keeps its exact text:
///   `25.5` is the decimal `"25.5"`, `1e3` the decimal `"1e3"`; a number without fraction or
///   exponent that fits `Int64` is an integer, a larger one a decimal. A string stays a string
///   even when it holds a number (`"25.5"`): the server aggregates numeric strings exactly too.
///   A null property is left out. Nested objects and arrays are refused.
/// - `source` is an optional string.
/// - Any other field is refused, so that a misspelt field name is noticed.
public struct EventLineDecoder: Sendable {
    /// The fields a line may carry.
    public static let fieldNames = ["event_id", "event_name", "customer_id", "timestamp", "properties", "source"]

    private let parseTimestamp: @Sendable (String) -> Int64?
    private let currentTimeMilliseconds: @Sendable () -> Int64

    /// - Parameters:
    ///   - parseTimestamp: parses an RFC 3339 timestamp into Unix milliseconds, or returns nil
    ///     (meterctl passes MeterCore's `CivilTime.parseRFC3339`).
    ///   - currentTimeMilliseconds: the time given to events without a timestamp; the system
    ///     clock by default.
    public init(
        parseTimestamp: @escaping @Sendable (String) -> Int64?,
        currentTimeMilliseconds: @escaping @Sendable () -> Int64 = EventLineDecoder.wallClockMilliseconds
    ) {
        self.parseTimestamp = parseTimestamp
        self.currentTimeMilliseconds = currentTimeMilliseconds
    }

    /// The system's wall clock, in Unix milliseconds.
    public static func wallClockMilliseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000 + Int64(time.tv_nsec) / 1_000_000
    }

    /// Decodes one line (without or with its newline). Returns nil for a blank line.
    public func decode(line: some Collection<UInt8>) throws(EventLineError) -> Meterd_V1_Event? {
        if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }) {
            return nil
        }
        let value: ExactJSONValue
        do {
            value = try ExactJSON.parse(line)
        } catch {
            throw EventLineError("invalid JSON at \(error)")
        }
        return try event(from: value)
    }

    /// Decodes one line given as a string. Returns nil for a blank line.
    public func decode(line: String) throws(EventLineError) -> Meterd_V1_Event? {
        try decode(line: Array(line.utf8))
    }

    /// Builds an event from a parsed JSON object.
    public func event(from value: ExactJSONValue) throws(EventLineError) -> Meterd_V1_Event {
        guard case .object(let members) = value else {
            throw EventLineError("an event must be a JSON object, not \(value.kindDescription)")
        }
        var event = Meterd_V1_Event()
        var seenTimestamp = false
        var seen: Set<String> = []
        for member in members {
            seen.insert(member.key)
            switch member.key {
            case "event_id":
                event.eventID = try Self.identifier(member)
            case "event_name":
                event.eventName = try Self.string(member)
            case "customer_id":
                event.customerID = try Self.identifier(member)
            case "source":
                if member.value != .null {
                    event.source = try Self.string(member)
                }
            case "timestamp":
                if member.value != .null {
                    event.timestampMs = try timestamp(member.value)
                    seenTimestamp = true
                }
            case "properties":
                event.properties = try Self.properties(member.value)
            default:
                throw EventLineError("unknown field \"\(member.key)\" (an event has \(Self.fieldNames.joined(separator: ", ")))")
            }
        }
        for required in ["event_id", "event_name", "customer_id"] where !seen.contains(required) {
            throw EventLineError("missing \"\(required)\"")
        }
        if !seenTimestamp {
            event.timestampMs = currentTimeMilliseconds()
        }
        return event
    }

    /// The property value a JSON number stands for, keeping its exact text: an integer when it
    /// has no fraction or exponent and fits Int64, otherwise a decimal with the original digits.
    public static func propertyValue(numberText text: String) -> Meterd_V1_PropertyValue {
        var value = Meterd_V1_PropertyValue()
        if !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let integer = Int64(text) {
            value.integerValue = integer
        } else {
            value.decimalValue = text
        }
        return value
    }

    private static func string(_ member: ExactJSONMember) throws(EventLineError) -> String {
        guard case .string(let text) = member.value else {
            throw EventLineError("\"\(member.key)\" must be a string, not \(member.value.kindDescription)")
        }
        return text
    }

    /// A string, or a number taken as its digits.
    private static func identifier(_ member: ExactJSONMember) throws(EventLineError) -> String {
        switch member.value {
        case .string(let text): return text
        case .number(let text): return text
        default: throw EventLineError("\"\(member.key)\" must be a string, not \(member.value.kindDescription)")
        }
    }

    private func timestamp(_ value: ExactJSONValue) throws(EventLineError) -> Int64 {
        switch value {
        case .string(let text):
            guard let milliseconds = parseTimestamp(text) else {
                throw EventLineError("\"timestamp\" \"\(text)\" is not an RFC 3339 timestamp (like 2026-01-31T12:00:00Z)")
            }
            return milliseconds
        case .number(let text):
            guard !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let milliseconds = Int64(text) else {
                throw EventLineError("\"timestamp\" \(text) must be a whole number of Unix milliseconds")
            }
            return milliseconds
        default:
            throw EventLineError("\"timestamp\" must be an RFC 3339 string or Unix milliseconds, not \(value.kindDescription)")
        }
    }

    private static func properties(_ value: ExactJSONValue) throws(EventLineError) -> [Meterd_V1_Property] {
        if value == .null {
            return []
        }
        guard case .object(let members) = value else {
            throw EventLineError("\"properties\" must be an object, not \(value.kindDescription)")
        }
        var properties: [Meterd_V1_Property] = []
        properties.reserveCapacity(members.count)
        for member in members {
            var property = Meterd_V1_Property()
            property.key = member.key
            switch member.value {
            case .string(let text):
                property.value.stringValue = text
            case .number(let text):
                property.value = propertyValue(numberText: text)
            case .bool(let flag):
                property.value.boolValue = flag
            case .null:
                continue
            case .object, .array:
                throw EventLineError(
                    "property \"\(member.key)\" is \(member.value.kindDescription): property values must be strings, numbers or booleans (nested objects and arrays are not supported)")
            }
            properties.append(property)
        }
        return properties
    }
}
