/// Turns events into what PostgreSQL is sent for them: one multi-row INSERT statement, or the
/// rows of a `COPY ... FROM STDIN` in text format.
///
/// Columns: event_id, event_name, customer_id, ts (a "YYYY-MM-DD HH:MM:SS.mmm+00" literal) and
/// properties, a JSON object whose values are all JSON strings, exactly the event's property
/// text (`{"model":"llama3.1","tokens":"812"}`); the queries cast `tokens` to numeric.
enum PostgresBatchEncoding {
    static let insertPrefix = "INSERT INTO events (event_id, event_name, customer_id, ts, properties) VALUES "
    static let insertSuffix = " ON CONFLICT (event_id) DO NOTHING"

    /// One multi-row INSERT ... ON CONFLICT (event_id) DO NOTHING, as SQL text (no NUL).
    static func insertStatement(_ events: ArraySlice<BenchEvent>) throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(insertPrefix.utf8.count + events.count * 160 + insertSuffix.utf8.count)
        bytes.append(contentsOf: insertPrefix.utf8)
        var first = true
        for event in events {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            bytes.append(UInt8(ascii: "("))
            try appendLiteral(event.id.utf8, to: &bytes)
            bytes.append(UInt8(ascii: ","))
            try appendLiteral(event.meter.eventName.utf8, to: &bytes)
            bytes.append(UInt8(ascii: ","))
            try appendLiteral(event.customer.utf8, to: &bytes)
            bytes.append(contentsOf: ",'".utf8)
            UTCCivilDate.appendTimestamp(event.timestampMs, to: &bytes)
            bytes.append(contentsOf: "',".utf8)
            try appendLiteral(propertiesJSON(event), to: &bytes)
            bytes.append(UInt8(ascii: ")"))
        }
        bytes.append(contentsOf: insertSuffix.utf8)
        return bytes
    }

    /// COPY text format: one line per event, columns separated by tabs.
    static func copyRows(_ events: ArraySlice<BenchEvent>) throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(events.count * 150)
        for event in events {
            try appendCopyField(event.id.utf8, to: &bytes)
            bytes.append(UInt8(ascii: "\t"))
            try appendCopyField(event.meter.eventName.utf8, to: &bytes)
            bytes.append(UInt8(ascii: "\t"))
            try appendCopyField(event.customer.utf8, to: &bytes)
            bytes.append(UInt8(ascii: "\t"))
            UTCCivilDate.appendTimestamp(event.timestampMs, to: &bytes)
            bytes.append(UInt8(ascii: "\t"))
            try appendCopyField(propertiesJSON(event), to: &bytes)
            bytes.append(UInt8(ascii: "\n"))
        }
        return bytes
    }

    /// The event's properties as a JSON object of strings, in the event's order.
    static func propertiesJSON(_ event: BenchEvent) throws -> [UInt8] {
        var json: [UInt8] = [UInt8(ascii: "{")]
        for (index, property) in event.properties.enumerated() {
            if index > 0 { json.append(UInt8(ascii: ",")) }
            try appendJSONString(property.key.utf8, to: &json)
            json.append(UInt8(ascii: ":"))
            try appendJSONString(property.value.utf8, to: &json)
        }
        json.append(UInt8(ascii: "}"))
        return json
    }

    /// A SQL string literal: single quotes doubled (standard_conforming_strings is on, so
    /// backslashes are plain characters). NUL cannot be stored in text and is refused.
    static func appendLiteral<Text: Sequence>(_ text: Text, to bytes: inout [UInt8]) throws where Text.Element == UInt8 {
        bytes.append(UInt8(ascii: "'"))
        for byte in text {
            if byte == 0 { throw BenchError("PostgreSQL text cannot contain NUL") }
            if byte == UInt8(ascii: "'") { bytes.append(byte) }
            bytes.append(byte)
        }
        bytes.append(UInt8(ascii: "'"))
    }

    /// A SQL string literal of a String (for query text built at run time).
    static func literal(_ text: String) throws -> String {
        var bytes: [UInt8] = []
        try appendLiteral(text.utf8, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A COPY text-format field: backslash, tab, newline and carriage return escaped.
    static func appendCopyField<Text: Sequence>(_ text: Text, to bytes: inout [UInt8]) throws where Text.Element == UInt8 {
        for byte in text {
            switch byte {
            case 0: throw BenchError("PostgreSQL text cannot contain NUL")
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            default: bytes.append(byte)
            }
        }
    }

    /// A JSON string: quote, backslash and control characters escaped. jsonb refuses \u0000.
    static func appendJSONString<Text: Sequence>(_ text: Text, to bytes: inout [UInt8]) throws where Text.Element == UInt8 {
        let hexDigits = Array("0123456789abcdef".utf8)
        bytes.append(UInt8(ascii: "\""))
        for byte in text {
            switch byte {
            case 0: throw BenchError("PostgreSQL jsonb cannot contain NUL")
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), byte])
            case 0x01..<0x20:
                bytes.append(contentsOf: "\\u00".utf8)
                bytes.append(hexDigits[Int(byte >> 4)])
                bytes.append(hexDigits[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
