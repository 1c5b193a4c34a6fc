import MeterProto
import XCTest

@testable import MeterClient

final class ExactJSONTests: XCTestCase {
    func testNumbersKeepTheirExactText() throws {
        for text in ["25.5", "1e3", "1E+3", "-0.000000001", "0", "-0", "123456789012345678901234567890", "2.5E-3", "0.1"] {
            XCTAssertEqual(try ExactJSON.parse(text), .number(text), text)
        }
    }

    func testMalformedNumbersAreRefused() {
        for text in ["01", "-", "1.", ".5", "1e", "1e+", "+1", "--1", "0x10", "1.2.3", "NaN", "Infinity"] {
            XCTAssertThrowsError(try ExactJSON.parse(text), text)
        }
    }

    func testStringEscapes() throws {
        XCTAssertEqual(try ExactJSON.parse(#""say \"hi\" \\ \/ \u00e9 \n\t""#), .string("say \"hi\" \\ / é \n\t"))
        XCTAssertEqual(try ExactJSON.parse(#""\ud83d\ude00""#), .string("😀"))
        XCTAssertEqual(try ExactJSON.parse("\"déjà vu\""), .string("déjà vu"))
        XCTAssertThrowsError(try ExactJSON.parse(#""\ud83d""#))  // unpaired surrogate
        XCTAssertThrowsError(try ExactJSON.parse(#""\x41""#))  // unknown escape
        XCTAssertThrowsError(try ExactJSON.parse("\"tab\there\""))  // raw control character
        XCTAssertThrowsError(try ExactJSON.parse(#""unterminated"#))
        XCTAssertThrowsError(try ExactJSON.parse([UInt8(ascii: "\""), 0xC3, UInt8(ascii: "\"")]))  // bad UTF-8
    }

    func testStructure() throws {
        XCTAssertEqual(
            try ExactJSON.parse(#" {"a": [1, true, null], "b": {}} "#),
            .object([
                ExactJSONMember(key: "a", value: .array([.number("1"), .bool(true), .null])),
                ExactJSONMember(key: "b", value: .object([])),
            ]))
        XCTAssertThrowsError(try ExactJSON.parse(#"{"a": 1, "a": 2}"#)) { error in
            XCTAssertTrue("\(error)".contains("duplicate key \"a\""), "\(error)")
        }
        XCTAssertThrowsError(try ExactJSON.parse(#"{"a": 1,}"#))
        XCTAssertThrowsError(try ExactJSON.parse(#"{"a": 1} x"#))
        XCTAssertThrowsError(try ExactJSON.parse(String(repeating: "[", count: 100) + String(repeating: "]", count: 100)))
    }

    func testErrorsNameTheColumn() {
        XCTAssertThrowsError(try ExactJSON.parse(#"{"a": tru}"#)) { error in
            XCTAssertEqual(error as? ExactJSONError, ExactJSONError(message: "invalid literal (expected true)", column: 7))
        }
    }
}

final class EventLineDecoderTests: XCTestCase {
    private let decoder = EventLineDecoder(
        parseTimestamp: { $0 == "2026-01-31T12:00:00Z" ? 1_769_860_800_000 : nil },
        currentTimeMilliseconds: { 42 })

    private func properties(_ line: String) throws -> [String: Meterd_V1_PropertyValue] {
        let event = try XCTUnwrap(try decoder.decode(line: line))
        return Dictionary(uniqueKeysWithValues: event.properties.map { ($0.key, $0.value) })
    }

    private func decimal(_ text: String) -> Meterd_V1_PropertyValue {
        var value = Meterd_V1_PropertyValue()
        value.decimalValue = text
        return value
    }

    private func integer(_ number: Int64) -> Meterd_V1_PropertyValue {
        var value = Meterd_V1_PropertyValue()
        value.integerValue = number
        return value
    }

    private func string(_ text: String) -> Meterd_V1_PropertyValue {
        var value = Meterd_V1_PropertyValue()
        value.stringValue = text
        return value
    }

    func testFullEvent() throws {
        let line = #"{"event_id": "evt-1", "event_name": "tokens_used", "customer_id": "cust-42", "timestamp": "2026-01-31T12:00:00Z", "properties": {"model": "llama3.1", "tokens": 1250, "cached": false}, "source": "api"}"#
        let event = try XCTUnwrap(try decoder.decode(line: line))
        XCTAssertEqual(event.eventID, "evt-1")
        XCTAssertEqual(event.eventName, "tokens_used")
        XCTAssertEqual(event.customerID, "cust-42")
        XCTAssertEqual(event.timestampMs, 1_769_860_800_000)
        XCTAssertEqual(event.source, "api")
        XCTAssertEqual(event.properties.map(\.key), ["model", "tokens", "cached"])
        XCTAssertEqual(event.properties[0].value, string("llama3.1"))
        XCTAssertEqual(event.properties[1].value, integer(1250))
        var flag = Meterd_V1_PropertyValue()
        flag.boolValue = false
        XCTAssertEqual(event.properties[2].value, flag)
    }

    func testNumbersAreExact() throws {
        let values = try properties(
            #"{"event_id": "e", "event_name": "n", "customer_id": "c", "properties": {"a": 25.5, "b": 1e3, "c": -0.000000001, "d": 9223372036854775807, "e": 9223372036854775808, "f": -9223372036854775809, "g": "25.5", "h": 0.1}}"#)
        XCTAssertEqual(values["a"], decimal("25.5"))
        XCTAssertEqual(values["b"], decimal("1e3"))
        XCTAssertEqual(values["c"], decimal("-0.000000001"))
        XCTAssertEqual(values["d"], integer(Int64.max))
        XCTAssertEqual(values["e"], decimal("9223372036854775808"))
        XCTAssertEqual(values["f"], decimal("-9223372036854775809"))
        XCTAssertEqual(values["g"], string("25.5"), "a JSON string stays a string")
        XCTAssertEqual(values["h"], decimal("0.1"))
    }

    func testEscapedStrings() throws {
        let values = try properties(#"{"event_id": "e", "event_name": "n", "customer_id": "c", "properties": {"label": "caf\u00e9 \"quoted\" back\\slash"}}"#)
        XCTAssertEqual(values["label"], string("café \"quoted\" back\\slash"))
    }

    func testTimestamps() throws {
        let integer = try XCTUnwrap(try decoder.decode(line: #"{"event_id": "e", "event_name": "n", "customer_id": "c", "timestamp": 1769860800123}"#))
        XCTAssertEqual(integer.timestampMs, 1_769_860_800_123)
        let missing = try XCTUnwrap(try decoder.decode(line: #"{"event_id": "e", "event_name": "n", "customer_id": "c"}"#))
        XCTAssertEqual(missing.timestampMs, 42, "a missing timestamp means now")
        XCTAssertThrowsError(try decoder.decode(line: #"{"event_id": "e", "event_name": "n", "customer_id": "c", "timestamp": "yesterday"}"#)) { error in
            XCTAssertTrue("\(error)".contains("RFC 3339"), "\(error)")
        }
        XCTAssertThrowsError(try decoder.decode(line: #"{"event_id": "e", "event_name": "n", "customer_id": "c", "timestamp": 1.5}"#))
    }

    func testNestedObjectsAreRefusedClearly() {
        XCTAssertThrowsError(try decoder.decode(line: #"{"event_id": "e", "event_name": "n", "customer_id": "c", "properties": {"meta": {"a": 1}}}"#)) { error in
            XCTAssertEqual(
                "\(error)",
                "property \"meta\" is an object: property values must be strings, numbers or booleans (nested objects and arrays are not supported)")
        }
        XCTAssertThrowsError(try decoder.decode(line: #"{"event_id": "e", "event_name": "n", "customer_id": "c", "properties": {"tags": [1]}}"#))
    }

    func testMissingAndUnknownFields() {
        XCTAssertThrowsError(try decoder.decode(line: #"{"event_id": "e", "event_name": "n"}"#)) { error in
            XCTAssertEqual("\(error)", "missing \"customer_id\"")
        }
        XCTAssertThrowsError(try decoder.decode(line: #"{"event_id": "e", "event_name": "n", "customer_id": "c", "customerId": "c"}"#)) { error in
            XCTAssertTrue("\(error)".hasPrefix("unknown field \"customerId\""), "\(error)")
        }
        XCTAssertThrowsError(try decoder.decode(line: "[1, 2]")) { error in
            XCTAssertEqual("\(error)", "an event must be a JSON object, not an array")
        }
        XCTAssertThrowsError(try decoder.decode(line: #"{"event_id": "e", "#)) { error in
            XCTAssertTrue("\(error)".hasPrefix("invalid JSON at column"), "\(error)")
        }
    }

    func testBlankLinesAreSkippedAndNullsOmitted() throws {
        XCTAssertNil(try decoder.decode(line: "   \r\n"))
        let values = try properties(#"{"event_id": 17, "event_name": "n", "customer_id": "c", "source": null, "properties": {"gone": null, "kept": true}}"#)
        XCTAssertEqual(Array(values.keys), ["kept"])
        let event = try XCTUnwrap(try decoder.decode(line: #"{"event_id": 17, "event_name": "n", "customer_id": 9007199254740993}"#))
        XCTAssertEqual(event.eventID, "17")
        XCTAssertEqual(event.customerID, "9007199254740993", "numeric ids keep their digits")
    }
}
