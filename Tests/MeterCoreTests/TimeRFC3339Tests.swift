import Foundation
import MeterCore
import MeterTestSupport
import XCTest

final class TimeRFC3339Tests: XCTestCase {
    func testFormattingKnownInstants() {
        XCTAssertEqual(CivilTime.rfc3339(milliseconds: 0), "1970-01-01T00:00:00Z")
        XCTAssertEqual(CivilTime.rfc3339(milliseconds: 1_769_817_600_000), "2026-01-31T00:00:00Z")
        XCTAssertEqual(CivilTime.rfc3339(milliseconds: 1_769_817_600_123), "2026-01-31T00:00:00.123Z")
        XCTAssertEqual(CivilTime.rfc3339(milliseconds: 1_769_817_600_050), "2026-01-31T00:00:00.050Z")
        XCTAssertEqual(CivilTime.rfc3339(milliseconds: 1_769_817_600_007), "2026-01-31T00:00:00.007Z")
        XCTAssertEqual(CivilTime.rfc3339(milliseconds: -1), "1969-12-31T23:59:59.999Z")
        XCTAssertEqual(CivilTime.rfc3339(milliseconds: -14_182_940_000), "1969-07-20T20:17:40Z")
        XCTAssertEqual(CivilTime.rfc3339(milliseconds: -11_676_096_000_000), "1600-01-01T00:00:00Z")
    }

    func testFormattingYearsOutsideFourDigits() {
        let yearZero = CivilTime.milliseconds(CivilDateTime(year: 0, month: 1, day: 1))
        XCTAssertEqual(CivilTime.rfc3339(milliseconds: yearZero), "0000-01-01T00:00:00Z")
        XCTAssertEqual(CivilTime.rfc3339(milliseconds: yearZero - 1), "-0001-12-31T23:59:59.999Z")
        let yearTenThousand = CivilTime.milliseconds(CivilDateTime(year: 10_000, month: 1, day: 1))
        XCTAssertEqual(CivilTime.rfc3339(milliseconds: yearTenThousand - 1), "9999-12-31T23:59:59.999Z")
        XCTAssertEqual(CivilTime.rfc3339(milliseconds: yearTenThousand), "+10000-01-01T00:00:00Z")
        XCTAssertEqual(CivilTime.rfc3339(milliseconds: Int64.max), "+292278994-08-17T07:12:55.807Z")
        XCTAssertNil(CivilTime.parseRFC3339("-0001-12-31T23:59:59.999Z"))
        XCTAssertNil(CivilTime.parseRFC3339("+10000-01-01T00:00:00Z"))
    }

    func testFormattingMatchesFoundationFields() {
        let oracle = TimeOracle()
        var generator = TestSeed.generator(for: #function)
        for index in 0..<3_000 {
            var instant = oracle.randomInstant(using: &generator)
            if index.isMultiple(of: 2) {
                instant -= instant % 1_000  // half of them on whole seconds, which omit the fraction
            }
            let fields = oracle.fields(milliseconds: instant)
            var expected = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(fields.year), fields.month, fields.day,
                                  fields.hour, fields.minute, fields.second)
            if fields.millisecond != 0 {
                expected += String(format: ".%03d", fields.millisecond)
            }
            expected += "Z"
            XCTAssertEqual(CivilTime.rfc3339(milliseconds: instant), expected, "seed \(TestSeed.value)")
            XCTAssertEqual(CivilTime.parseRFC3339(expected), instant, "\(expected), seed \(TestSeed.value)")
        }
    }

    func testParsingWithOffsetsMatchesFoundation() {
        let oracle = TimeOracle()
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var generator = TestSeed.generator(for: #function)
        for _ in 0..<2_000 {
            let fields = oracle.fields(milliseconds: oracle.randomInstant(using: &generator))
            let offsetHour = Int.random(in: 0...14, using: &generator)
            let offsetMinute = [0, 15, 30, 45, 59].randomElement(using: &generator)!
            let sign = Bool.random(using: &generator) ? "+" : "-"
            let text = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(fields.year), fields.month,
                              fields.day, fields.hour, fields.minute, fields.second)
                + sign + String(format: "%02d:%02d", offsetHour, offsetMinute)
            guard let date = formatter.date(from: text) else {
                XCTFail("Foundation rejected \(text)")
                continue
            }
            XCTAssertEqual(CivilTime.parseRFC3339(text), oracle.milliseconds(date), "\(text), seed \(TestSeed.value)")
        }
    }

    func testParsingOffsetsAndFractions() {
        let midnight: Int64 = 1_769_817_600_000  // 2026-01-31T00:00:00Z
        XCTAssertEqual(CivilTime.parseRFC3339("2026-01-31T00:00:00Z"), midnight)
        XCTAssertEqual(CivilTime.parseRFC3339("2026-01-31t00:00:00z"), midnight)
        XCTAssertEqual(CivilTime.parseRFC3339("2026-01-31T01:30:00+01:30"), midnight)
        XCTAssertEqual(CivilTime.parseRFC3339("2026-01-30T19:00:00-05:00"), midnight)
        XCTAssertEqual(CivilTime.parseRFC3339("2026-01-31T00:00:00+00:00"), midnight)
        XCTAssertEqual(CivilTime.parseRFC3339("2026-01-31T00:00:00-00:00"), midnight)
        XCTAssertEqual(CivilTime.parseRFC3339("2024-03-01T00:30:00+01:00"), 1_709_249_400_000)  // 2024-02-29T23:30Z
        XCTAssertEqual(CivilTime.parseRFC3339("2026-01-31T00:00:00.1Z"), midnight + 100)
        XCTAssertEqual(CivilTime.parseRFC3339("2026-01-31T00:00:00.12Z"), midnight + 120)
        XCTAssertEqual(CivilTime.parseRFC3339("2026-01-31T00:00:00.123Z"), midnight + 123)
        XCTAssertEqual(CivilTime.parseRFC3339("2026-01-31T00:00:00.000Z"), midnight)
        XCTAssertEqual(CivilTime.parseRFC3339("2026-01-31T00:00:00.123999999Z"), midnight + 123)
        XCTAssertEqual(CivilTime.parseRFC3339("2026-01-31T00:00:00.9999+01:00"), midnight - 3_600_000 + 999)
        XCTAssertEqual(CivilTime.parseRFC3339("1969-12-31T23:59:59.9999Z"), -1)
        XCTAssertEqual(CivilTime.parseRFC3339("1600-01-01T00:00:00Z"), -11_676_096_000_000)
        XCTAssertEqual(CivilTime.parseRFC3339("0000-01-01T00:00:00Z"),
                       CivilTime.milliseconds(CivilDateTime(year: 0, month: 1, day: 1)))
        XCTAssertEqual(CivilTime.parseRFC3339("2000-02-29T12:00:00Z"), 951_825_600_000)
    }

    func testParsingRejectsInvalidText() {
        let rejected = [
            "",
            "2026-02-30T00:00:00Z",  // February 30
            "2025-02-29T00:00:00Z",  // not a leap year
            "1900-02-29T00:00:00Z",  // century, not a leap year
            "2026-04-31T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-10T00:00:00Z",
            "2026-01-00T00:00:00Z",
            "2026-01-32T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:60:00Z",
            "2026-01-01T00:00:60Z",  // leap seconds are not representable
            "2026-01-01T00:00:00",  // no offset
            "2026-01-01",
            "2026-01-01T00:00Z",
            "2026-01-01 00:00:00Z",
            " 2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z ",
            "2026-01-01T00:00:00ZZ",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00,5Z",
            "2026-01-01T00:00:00+0100",
            "2026-01-01T00:00:00+01",
            "2026-01-01T00:00:00+24:00",
            "2026-01-01T00:00:00+01:60",
            "2026-01-01T00:00:00UTC",
            "26-01-01T00:00:00Z",
            "2026-1-01T00:00:00Z",
            "2026-01-1T00:00:00Z",
            "20260101T000000Z",
            "+2026-01-01T00:00:00Z",
            "2026-01-01T00:00:0aZ",
            "２０２６-01-01T00:00:00Z",  // non-ASCII digits
        ]
        for text in rejected {
            XCTAssertNil(CivilTime.parseRFC3339(text), "accepted \(text)")
        }
    }

    func testRoundTripIncludingNegativeInstants() {
        var generator = TestSeed.generator(for: #function)
        let earliest = CivilTime.milliseconds(CivilDateTime(year: 0, month: 1, day: 1))
        let latest = CivilTime.milliseconds(CivilDateTime(year: 10_000, month: 1, day: 1)) - 1
        for _ in 0..<5_000 {
            let instant = Int64.random(in: earliest...latest, using: &generator)
            let text = CivilTime.rfc3339(milliseconds: instant)
            XCTAssertEqual(CivilTime.parseRFC3339(text), instant, "\(text), seed \(TestSeed.value)")
        }
        for instant: Int64 in [earliest, latest, -1, 0, 1, -86_400_000, -86_400_001] {
            XCTAssertEqual(CivilTime.parseRFC3339(CivilTime.rfc3339(milliseconds: instant)), instant)
        }
    }
}
