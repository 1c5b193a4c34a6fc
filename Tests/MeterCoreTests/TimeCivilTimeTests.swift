import Foundation
import MeterCore
import MeterTestSupport
import XCTest

final class TimeCivilTimeTests: XCTestCase {
    func testLeapYears() {
        XCTAssertFalse(CivilTime.isLeapYear(1900))
        XCTAssertTrue(CivilTime.isLeapYear(2000))
        XCTAssertTrue(CivilTime.isLeapYear(2024))
        XCTAssertFalse(CivilTime.isLeapYear(2023))
        XCTAssertFalse(CivilTime.isLeapYear(2100))
        XCTAssertTrue(CivilTime.isLeapYear(1600))
        XCTAssertTrue(CivilTime.isLeapYear(2400))
        XCTAssertTrue(CivilTime.isLeapYear(0))
        XCTAssertTrue(CivilTime.isLeapYear(-4))
        XCTAssertFalse(CivilTime.isLeapYear(-1))
        XCTAssertFalse(CivilTime.isLeapYear(-100))
        XCTAssertTrue(CivilTime.isLeapYear(-400))
    }

    func testLeapYearsMatchFoundationFrom1600To2400() {
        let oracle = TimeOracle()
        for year in 1600...2400 {
            let lastOfFebruary = oracle.calendar.range(
                of: .day, in: .month,
                for: oracle.date(milliseconds: oracle.milliseconds(year: year, month: 2, day: 1)).date
            )!.upperBound - 1
            XCTAssertEqual(CivilTime.isLeapYear(Int64(year)), lastOfFebruary == 29, "year \(year)")
            XCTAssertEqual(CivilTime.daysInMonth(year: Int64(year), month: 2), lastOfFebruary, "year \(year)")
        }
    }

    func testDaysInMonth() {
        XCTAssertEqual(CivilTime.daysInMonth(year: 1900, month: 2), 28)
        XCTAssertEqual(CivilTime.daysInMonth(year: 2000, month: 2), 29)
        XCTAssertEqual(CivilTime.daysInMonth(year: 2024, month: 2), 29)
        XCTAssertEqual(CivilTime.daysInMonth(year: 2025, month: 2), 28)
        let expected = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        XCTAssertEqual((1...12).map { CivilTime.daysInMonth(year: 2025, month: $0) }, expected)
        // Months outside 1...12 belong to neighbouring years: month 14 of 2023 is February 2024.
        XCTAssertEqual(CivilTime.daysInMonth(year: 2023, month: 14), 29)
        XCTAssertEqual(CivilTime.daysInMonth(year: 2024, month: 0), 31)
    }

    func testKnownDayNumbers() {
        XCTAssertEqual(CivilTime.days(year: 1970, month: 1, day: 1), 0)
        XCTAssertEqual(CivilTime.days(year: 1969, month: 12, day: 31), -1)
        XCTAssertEqual(CivilTime.days(year: 2000, month: 3, day: 1), 11_017)
        XCTAssertEqual(CivilTime.days(year: 1600, month: 1, day: 1), -135_140)
        XCTAssertEqual(CivilTime.days(year: 0, month: 3, day: 1), -719_468)
        XCTAssertTrue(CivilTime.date(days: 0) == (1970, 1, 1))
        XCTAssertTrue(CivilTime.date(days: -1) == (1969, 12, 31))
        XCTAssertTrue(CivilTime.date(days: 11_016) == (2000, 2, 29))
        XCTAssertTrue(CivilTime.date(days: -719_469) == (0, 2, 29))
        // Normalization of out-of-range months and days.
        XCTAssertEqual(CivilTime.days(year: 2025, month: 13, day: 1), CivilTime.days(year: 2026, month: 1, day: 1))
        XCTAssertEqual(CivilTime.days(year: 2025, month: 0, day: 1), CivilTime.days(year: 2024, month: 12, day: 1))
        XCTAssertEqual(CivilTime.days(year: 2024, month: 3, day: 0), CivilTime.days(year: 2024, month: 2, day: 29))
    }

    /// Walks every day of about ±2700 years and checks that dates advance by exactly one day each step.
    func testDayNumbersAreContinuousAndRoundTrip() {
        var previous = CivilTime.date(days: -1_000_000)
        for dayNumber in Int64(-999_999)...1_000_000 {
            let current = CivilTime.date(days: dayNumber)
            let expected: (year: Int64, month: Int, day: Int)
            if previous.day < CivilTime.daysInMonth(year: previous.year, month: previous.month) {
                expected = (previous.year, previous.month, previous.day + 1)
            } else if previous.month < 12 {
                expected = (previous.year, previous.month + 1, 1)
            } else {
                expected = (previous.year + 1, 1, 1)
            }
            guard current == expected else {
                return XCTFail("day \(dayNumber): got \(current), expected \(expected)")
            }
            guard CivilTime.days(year: current.year, month: current.month, day: current.day) == dayNumber else {
                return XCTFail("day \(dayNumber) does not round-trip through \(current)")
            }
            previous = current
        }
    }

    func testComponentsMatchFoundationForRandomInstants() {
        let oracle = TimeOracle()
        var generator = TestSeed.generator(for: #function)
        for _ in 0..<5_000 {
            let instant = oracle.randomInstant(using: &generator)
            let components = CivilTime.components(milliseconds: instant)
            XCTAssertEqual(components, oracle.fields(milliseconds: instant), "instant \(instant), seed \(TestSeed.value)")
            XCTAssertTrue(components.isValid)
            XCTAssertEqual(CivilTime.milliseconds(components), instant, "seed \(TestSeed.value)")
        }
    }

    func testDaysMatchFoundationForRandomDates() {
        let oracle = TimeOracle()
        var generator = TestSeed.generator(for: #function)
        for _ in 0..<2_000 {
            let year = Int.random(in: 1600...2400, using: &generator)
            let month = Int.random(in: 1...12, using: &generator)
            let day = Int.random(in: 1...CivilTime.daysInMonth(year: Int64(year), month: month), using: &generator)
            XCTAssertEqual(
                CivilTime.days(year: Int64(year), month: month, day: day) * 86_400_000,
                oracle.milliseconds(year: year, month: month, day: day),
                "\(year)-\(month)-\(day), seed \(TestSeed.value)"
            )
        }
    }

    func testNegativeInstants() {
        XCTAssertEqual(CivilTime.components(milliseconds: -1),
                       CivilDateTime(year: 1969, month: 12, day: 31, hour: 23, minute: 59, second: 59, millisecond: 999))
        XCTAssertEqual(CivilTime.components(milliseconds: -86_400_000), CivilDateTime(year: 1969, month: 12, day: 31))
        XCTAssertEqual(CivilTime.components(milliseconds: -86_400_001),
                       CivilDateTime(year: 1969, month: 12, day: 30, hour: 23, minute: 59, second: 59, millisecond: 999))
        XCTAssertEqual(CivilTime.components(milliseconds: -11_676_096_000_000), CivilDateTime(year: 1600, month: 1, day: 1))
        XCTAssertEqual(CivilTime.millisecondOfDay(milliseconds: -1), 86_399_999)
        XCTAssertEqual(CivilTime.milliseconds(CivilDateTime(year: 1969, month: 12, day: 31, hour: 23, minute: 59,
                                                            second: 59, millisecond: 999)), -1)
    }

    func testExtremeInstantsRoundTrip() {
        for instant in [Int64.min, Int64.min + 1, Int64.max, Int64.max - 1, 0] {
            let components = CivilTime.components(milliseconds: instant)
            XCTAssertTrue(components.isValid, "\(instant)")
            XCTAssertEqual(CivilTime.milliseconds(components), instant)
        }
        XCTAssertEqual(CivilTime.components(milliseconds: Int64.max).year, 292_278_994)
    }

    func testValidity() {
        XCTAssertTrue(CivilDateTime(year: 2024, month: 2, day: 29).isValid)
        XCTAssertFalse(CivilDateTime(year: 2023, month: 2, day: 29).isValid)
        XCTAssertFalse(CivilDateTime(year: 2024, month: 2, day: 30).isValid)
        XCTAssertFalse(CivilDateTime(year: 2024, month: 13, day: 1).isValid)
        XCTAssertFalse(CivilDateTime(year: 2024, month: 0, day: 1).isValid)
        XCTAssertFalse(CivilDateTime(year: 2024, month: 4, day: 31).isValid)
        XCTAssertFalse(CivilDateTime(year: 2024, month: 1, day: 0).isValid)
        XCTAssertFalse(CivilDateTime(year: 2024, month: 1, day: 1, hour: 24).isValid)
        XCTAssertFalse(CivilDateTime(year: 2024, month: 1, day: 1, minute: 60).isValid)
        XCTAssertFalse(CivilDateTime(year: 2024, month: 1, day: 1, second: 60).isValid)
        XCTAssertFalse(CivilDateTime(year: 2024, month: 1, day: 1, millisecond: 1_000).isValid)
        XCTAssertFalse(CivilDateTime(year: 2024, month: 1, day: 1, hour: -1).isValid)
    }
}
