import MeterCore
import XCTest

/// The one JSON string escaper: what must be escaped is, and nothing else changes.
final class JSONStringLiteralTests: XCTestCase {
    func testQuotesBackslashesAndControlCharactersAreEscaped() {
        XCTAssertEqual(JSONStringLiteral.quoted("a\"b\\c\nd\re\tf\u{0}g\u{1F}"), #""a\"b\\c\nd\re\tf\u0000g\u001f""#)
    }

    func testOtherTextIsKeptAsItIs() {
        XCTAssertEqual(JSONStringLiteral.quoted("日本 🙂 é / '"), "\"日本 🙂 é / '\"")
        XCTAssertEqual(JSONStringLiteral.quoted(""), "\"\"")
    }

    func testAppendAddsToWhatIsThere() {
        var output = "key="
        JSONStringLiteral.append("v", to: &output)
        XCTAssertEqual(output, "key=\"v\"")
    }
}
