import Foundation
import MeterCore
import MeterTestSupport
import XCTest

final class TimeWindowSizeTests: XCTestCase {
    private func instant(_ text: String) -> Int64 {
        guard let value = CivilTime.parseRFC3339(text) else {
            fatalError("bad test timestamp \(text)")
        }
        return value
    }

    private func text(_ milliseconds: Int64) -> String {
        CivilTime.rfc3339(milliseconds: milliseconds)
    }

    func testRawValuesAndCoding() throws {
        XCTAssertEqual(WindowSize.allCases.map(\.rawValue),
                       ["MINUTE", "15MIN", "30MIN", "HOUR", "3HOUR", "6HOUR", "12HOUR", "DAY", "WEEK", "MONTH"])
        XCTAssertEqual(try JSONDecoder().decode([WindowSize].self, from: Data(#"["15MIN","MONTH"]"#.utf8)),
                       [.fifteenMinutes, .month])
        XCTAssertEqual(String(decoding: try JSONEncoder().encode([WindowSize.twelveHours]), as: UTF8.self), #"["12HOUR"]"#)
    }

    func testFixedLengths() {
        XCTAssertEqual(WindowSize.allCases.map(\.fixedLengthMilliseconds), [
            60_000, 900_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000, 604_800_000, nil,
        ])
    }

    func testKnownWindows() {
        let moment = instant("2024-02-29T13:47:12.345Z")
        let expected: [(WindowSize, String, String)] = [
            (.minute, "2024-02-29T13:47:00Z", "2024-02-29T13:48:00Z"),
            (.fifteenMinutes, "2024-02-29T13:45:00Z", "2024-02-29T14:00:00Z"),
            (.thirtyMinutes, "2024-02-29T13:30:00Z", "2024-02-29T14:00:00Z"),
            (.hour, "2024-02-29T13:00:00Z", "2024-02-29T14:00:00Z"),
            (.threeHours, "2024-02-29T12:00:00Z", "2024-02-29T15:00:00Z"),
            (.sixHours, "2024-02-29T12:00:00Z", "2024-02-29T18:00:00Z"),
            (.twelveHours, "2024-02-29T12:00:00Z", "2024-03-01T00:00:00Z"),
            (.day, "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"),
            (.week, "2024-02-26T00:00:00Z", "2024-03-04T00:00:00Z"),
            (.month, "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"),
        ]
        for (size, start, end) in expected {
            let windowStart = size.windowStart(containing: moment)
            XCTAssertEqual(text(windowStart), start, "\(size)")
            XCTAssertEqual(text(size.windowEnd(startingAt: windowStart)), end, "\(size)")
        }
    }

    func testWindowsAroundAndBeforeTheEpoch() {
        XCTAssertEqual(WindowSize.minute.windowStart(containing: -1), -60_000)
        XCTAssertEqual(WindowSize.day.windowStart(containing: -1), -86_400_000)
        XCTAssertEqual(WindowSize.day.windowStart(containing: 0), 0)
        // 1970-01-01 was a Thursday; its ISO week began on Monday 1969-12-29.
        XCTAssertEqual(text(WindowSize.week.windowStart(containing: 0)), "1969-12-29T00:00:00Z")
        XCTAssertEqual(text(WindowSize.week.windowStart(containing: instant("1970-01-05T00:00:00Z"))), "1970-01-05T00:00:00Z")
        XCTAssertEqual(text(WindowSize.week.windowStart(containing: instant("1970-01-04T23:59:59.999Z"))),
                       "1969-12-29T00:00:00Z")
        XCTAssertEqual(text(WindowSize.month.windowStart(containing: -1)), "1969-12-01T00:00:00Z")
        XCTAssertEqual(text(WindowSize.month.windowEnd(startingAt: instant("1969-12-01T00:00:00Z"))), "1970-01-01T00:00:00Z")
        XCTAssertEqual(text(WindowSize.threeHours.windowStart(containing: instant("1969-12-31T22:59:59Z"))),
                       "1969-12-31T21:00:00Z")
    }

    func testMonthWindowsRollOverYearsAndLeapDays() {
        XCTAssertEqual(text(WindowSize.month.windowEnd(startingAt: instant("2024-12-01T00:00:00Z"))), "2025-01-01T00:00:00Z")
        XCTAssertEqual(text(WindowSize.month.windowStart(containing: instant("2024-12-31T23:59:59.999Z"))),
                       "2024-12-01T00:00:00Z")
        XCTAssertEqual(text(WindowSize.month.windowStart(containing: instant("2025-01-01T00:00:00Z"))), "2025-01-01T00:00:00Z")
        XCTAssertEqual(WindowSize.month.windowEnd(startingAt: instant("2024-02-01T00:00:00Z"))
                       - instant("2024-02-01T00:00:00Z"), 29 * 86_400_000)
        XCTAssertEqual(WindowSize.month.windowEnd(startingAt: instant("1900-02-01T00:00:00Z"))
                       - instant("1900-02-01T00:00:00Z"), 28 * 86_400_000)
    }

    func testUnalignedStartEndsAtTheNextBoundary() {
        let inside = instant("2024-05-17T08:20:00Z")
        XCTAssertEqual(text(WindowSize.hour.windowEnd(startingAt: inside)), "2024-05-17T09:00:00Z")
        XCTAssertEqual(text(WindowSize.week.windowEnd(startingAt: inside)), "2024-05-20T00:00:00Z")
        XCTAssertEqual(text(WindowSize.month.windowEnd(startingAt: inside)), "2024-06-01T00:00:00Z")
    }

    /// Foundation's answer: whole calendar units for the aligned sizes, truncated hours or minutes for the others.
    private func oracleWindow(_ size: WindowSize, containing target: Int64, oracle: TimeOracle) -> (start: Int64, end: Int64) {
        let fields = oracle.fields(milliseconds: target)
        let year = Int(fields.year)
        func truncated(hourStep: Int, minuteStep: Int) -> (start: Int64, end: Int64) {
            let start = oracle.milliseconds(year: year, month: fields.month, day: fields.day,
                                            hour: fields.hour / hourStep * hourStep,
                                            minute: minuteStep == 0 ? 0 : fields.minute / minuteStep * minuteStep)
            let step = minuteStep == 0 ? hourStep * 60 : minuteStep
            let end = oracle.milliseconds(oracle.calendar.date(byAdding: .minute, value: step,
                                                               to: oracle.date(milliseconds: start).date)!)
            return (start, end)
        }
        switch size {
        case .minute: return oracle.interval(of: .minute, containing: target)
        case .fifteenMinutes: return truncated(hourStep: 1, minuteStep: 15)
        case .thirtyMinutes: return truncated(hourStep: 1, minuteStep: 30)
        case .hour: return oracle.interval(of: .hour, containing: target)
        case .threeHours: return truncated(hourStep: 3, minuteStep: 0)
        case .sixHours: return truncated(hourStep: 6, minuteStep: 0)
        case .twelveHours: return truncated(hourStep: 12, minuteStep: 0)
        case .day: return oracle.interval(of: .day, containing: target)
        case .week: return oracle.interval(of: .weekOfYear, containing: target)
        case .month: return oracle.interval(of: .month, containing: target)
        }
    }

    func testWindowsMatchFoundationForRandomInstants() {
        let oracle = TimeOracle()
        var generator = TestSeed.generator(for: #function)
        for iteration in 0..<3_000 {
            let size = WindowSize.allCases[iteration % WindowSize.allCases.count]
            var target = oracle.randomInstant(using: &generator)
            if iteration % 7 == 0 {  // exactly on a boundary, and 1 ms before one
                target = oracleWindow(size, containing: target, oracle: oracle).start - Int64(iteration % 2)
            }
            let expected = oracleWindow(size, containing: target, oracle: oracle)
            let start = size.windowStart(containing: target)
            let end = size.windowEnd(startingAt: start)
            let context = "\(size) instant \(text(target)) seed \(TestSeed.value)"
            XCTAssertEqual(text(start), text(expected.start), context)
            XCTAssertEqual(text(end), text(expected.end), context)
            XCTAssertEqual(size.windowStart(containing: end - 1), start, context)
            XCTAssertEqual(size.windowStart(containing: end), end, context)
            if let length = size.fixedLengthMilliseconds {
                XCTAssertEqual(end - start, length, context)
            }
        }
    }
}
