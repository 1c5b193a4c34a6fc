// Shared support for the Time tests: a seeded random generator and a Foundation-based oracle,
// plus tests that keep both honest.

import Foundation
import MeterCore
import MeterTestSupport
import XCTest

/// An independent implementation of the same calendar questions, backed by Foundation's Gregorian calendar in UTC.
///
/// Foundation switches to the Julian calendar before October 1582, so only
/// instants from 1583 onwards are meaningful here; the tests stay within 1600–2400.
struct TimeOracle {
    let calendar: Calendar

    init() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        calendar.firstWeekday = 2  // Monday, as in ISO 8601
        calendar.minimumDaysInFirstWeek = 4
        self.calendar = calendar
    }

    /// 1600-01-01T00:00:00Z according to Foundation.
    var earliestMilliseconds: Int64 { milliseconds(year: 1600, month: 1, day: 1) }
    /// 2400-12-31T23:59:59.999Z according to Foundation.
    var latestMilliseconds: Int64 { milliseconds(year: 2401, month: 1, day: 1) - 1 }

    /// A random instant between 1600 and 2400 inclusive.
    func randomInstant(using generator: inout SplitMix64) -> Int64 {
        Int64.random(in: earliestMilliseconds...latestMilliseconds, using: &generator)
    }

    /// Foundation's `Date` for the whole second at or before the instant, and the leftover milliseconds.
    func date(milliseconds: Int64) -> (date: Date, millisecond: Int64) {
        var seconds = milliseconds / 1_000
        var millisecond = milliseconds % 1_000
        if millisecond < 0 {
            seconds -= 1
            millisecond += 1_000
        }
        return (Date(timeIntervalSince1970: TimeInterval(seconds)), millisecond)
    }

    /// Whole-second `Date` back to Unix milliseconds.
    func milliseconds(_ date: Date, plus millisecond: Int64 = 0) -> Int64 {
        Int64(date.timeIntervalSince1970.rounded()) * 1_000 + millisecond
    }

    func milliseconds(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) -> Int64 {
        let parts = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        return milliseconds(calendar.date(from: parts)!)
    }

    func fields(milliseconds: Int64) -> CivilDateTime {
        let (date, millisecond) = date(milliseconds: milliseconds)
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return CivilDateTime(
            year: Int64(parts.year!), month: parts.month!, day: parts.day!,
            hour: parts.hour!, minute: parts.minute!, second: parts.second!, millisecond: Int(millisecond)
        )
    }

    /// The instant moved by `months` calendar months, keeping the time of day, with the day clamped to the target month.
    ///
    /// This deliberately avoids `calendar.date(byAdding: .month, …)`: the swift-foundation
    /// in this toolchain miscounts the length of February for some negative month
    /// offsets (1984-02-29 minus 1896 months gives 1826-03-01, minus 1920 months gives
    /// 1824-02-28; see swiftlang/swift-foundation pull request 1708). Month lengths come
    /// from `range(of: .day, in: .month, …)` and the instant from `date(from:)` instead.
    func adding(months: Int, to instantMilliseconds: Int64) -> Int64 {
        let (date, millisecond) = date(milliseconds: instantMilliseconds)
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let monthIndex = parts.year! * 12 + (parts.month! - 1) + months
        let year = monthIndex >= 0 ? monthIndex / 12 : (monthIndex - 11) / 12
        let month = monthIndex - year * 12 + 1
        let firstOfMonth = calendar.date(from: DateComponents(year: year, month: month, day: 1))!
        let monthLength = calendar.range(of: .day, in: .month, for: firstOfMonth)!.count
        let target = DateComponents(year: year, month: month, day: min(parts.day!, monthLength),
                                    hour: parts.hour!, minute: parts.minute!, second: parts.second!)
        return milliseconds(calendar.date(from: target)!, plus: millisecond)
    }

    /// Whole calendar months from one instant to another, as Foundation counts them.
    func monthDistance(fromMilliseconds: Int64, toMilliseconds: Int64) -> Int {
        calendar.dateComponents([.month], from: date(milliseconds: fromMilliseconds).date,
                                to: date(milliseconds: toMilliseconds).date).month!
    }

    /// The Foundation interval (`.day`, `.weekOfYear`, `.month`, …) containing the instant, in milliseconds.
    func interval(of component: Calendar.Component, containing instantMilliseconds: Int64) -> (start: Int64, end: Int64) {
        let interval = calendar.dateInterval(of: component, for: date(milliseconds: instantMilliseconds).date)!
        return (milliseconds(interval.start), milliseconds(interval.end))
    }
}

final class TimeOracleTests: XCTestCase {
    func testRandomGeneratorIsDeterministicPerSeed() {
        var first = SplitMix64(seed: 42)
        var second = SplitMix64(seed: 42)
        var other = SplitMix64(seed: 43)
        let firstValues = (0..<8).map { _ in first.next() }
        XCTAssertEqual(firstValues, (0..<8).map { _ in second.next() })
        XCTAssertNotEqual(firstValues, (0..<8).map { _ in other.next() })
        // Reference output of SplitMix64 for seed 0.
        var zero = SplitMix64(seed: 0)
        XCTAssertEqual(zero.next(), 0xE220_A839_7B1D_CDAF)
    }

    func testSeedParsing() {
        XCTAssertEqual(TestSeed.parse("12345"), 12345)
        XCTAssertEqual(TestSeed.parse("0xff"), 255)
        XCTAssertNil(TestSeed.parse("seed"))
        XCTAssertNil(TestSeed.parse("-1"))
    }

    func testOracleAgreesWithPublishedInstants() {
        let oracle = TimeOracle()
        XCTAssertEqual(oracle.milliseconds(year: 1970, month: 1, day: 1), 0)
        XCTAssertEqual(oracle.milliseconds(year: 2000, month: 2, day: 29), 951_782_400_000)
        XCTAssertEqual(oracle.milliseconds(year: 1600, month: 1, day: 1), -11_676_096_000_000)
        XCTAssertEqual(oracle.fields(milliseconds: -1),
                       CivilDateTime(year: 1969, month: 12, day: 31, hour: 23, minute: 59, second: 59, millisecond: 999))
        XCTAssertEqual(oracle.adding(months: 1, to: oracle.milliseconds(year: 2023, month: 1, day: 31, hour: 10)),
                       oracle.milliseconds(year: 2023, month: 2, day: 28, hour: 10))
        let leapDay = oracle.milliseconds(year: 1984, month: 2, day: 29, hour: 23, minute: 36, second: 12) + 341
        XCTAssertEqual(oracle.adding(months: -1896, to: leapDay),
                       oracle.milliseconds(year: 1826, month: 2, day: 28, hour: 23, minute: 36, second: 12) + 341)
        XCTAssertEqual(oracle.adding(months: -1920, to: leapDay),
                       oracle.milliseconds(year: 1824, month: 2, day: 29, hour: 23, minute: 36, second: 12) + 341)
        XCTAssertEqual(oracle.adding(months: -25, to: leapDay),
                       oracle.milliseconds(year: 1982, month: 1, day: 29, hour: 23, minute: 36, second: 12) + 341)
        // 2024-01-01 was a Monday, so it starts its own ISO week.
        let monday = oracle.milliseconds(year: 2024, month: 1, day: 1)
        XCTAssertEqual(oracle.interval(of: .weekOfYear, containing: monday + 5).start, monday)
    }
}
