import Foundation
import MeterCore
import MeterTestSupport
import XCTest

final class TimeBillingPeriodTests: XCTestCase {
    private func instant(_ text: String) -> Int64 {
        guard let value = CivilTime.parseRFC3339(text) else {
            fatalError("bad test timestamp \(text)")
        }
        return value
    }

    private func boundaries(_ period: BillingPeriod, anchor: String, indexes: ClosedRange<Int64>) -> [String] {
        indexes.map { CivilTime.rfc3339(milliseconds: period.boundary(index: $0, anchorMilliseconds: instant(anchor))) }
    }

    func testRawValuesAndCoding() throws {
        XCTAssertEqual(BillingPeriod.allCases.map(\.rawValue), ["DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "ANNUAL"])
        let encoded = try JSONEncoder().encode([BillingPeriod.quarterly])
        XCTAssertEqual(String(decoding: encoded, as: UTF8.self), #"["QUARTERLY"]"#)
        XCTAssertEqual(try JSONDecoder().decode([BillingPeriod].self, from: Data(#"["ANNUAL"]"#.utf8)), [.annual])
        XCTAssertThrowsError(try JSONDecoder().decode([BillingPeriod].self, from: Data(#"["annual"]"#.utf8)))
    }

    func testMonthlyFromThe31stClampsWithoutDrifting() {
        XCTAssertEqual(boundaries(.monthly, anchor: "2023-01-31T10:00:00Z", indexes: -2...13), [
            "2022-11-30T10:00:00Z", "2022-12-31T10:00:00Z",
            "2023-01-31T10:00:00Z", "2023-02-28T10:00:00Z", "2023-03-31T10:00:00Z", "2023-04-30T10:00:00Z",
            "2023-05-31T10:00:00Z", "2023-06-30T10:00:00Z", "2023-07-31T10:00:00Z", "2023-08-31T10:00:00Z",
            "2023-09-30T10:00:00Z", "2023-10-31T10:00:00Z", "2023-11-30T10:00:00Z", "2023-12-31T10:00:00Z",
            "2024-01-31T10:00:00Z", "2024-02-29T10:00:00Z",
        ])
    }

    func testMonthlyFromThe30thAnd29th() {
        XCTAssertEqual(boundaries(.monthly, anchor: "2025-01-30T23:59:59.999Z", indexes: 0...2),
                       ["2025-01-30T23:59:59.999Z", "2025-02-28T23:59:59.999Z", "2025-03-30T23:59:59.999Z"])
        XCTAssertEqual(boundaries(.monthly, anchor: "2024-01-29T00:00:00Z", indexes: 0...2),
                       ["2024-01-29T00:00:00Z", "2024-02-29T00:00:00Z", "2024-03-29T00:00:00Z"])
    }

    func testAnnualFromFebruary29() {
        let anchor = "2024-02-29T00:00:00Z"
        XCTAssertEqual(boundaries(.annual, anchor: anchor, indexes: -1...4), [
            "2023-02-28T00:00:00Z", "2024-02-29T00:00:00Z", "2025-02-28T00:00:00Z",
            "2026-02-28T00:00:00Z", "2027-02-28T00:00:00Z", "2028-02-29T00:00:00Z",
        ])
        XCTAssertEqual(boundaries(.annual, anchor: anchor, indexes: 76...76), ["2100-02-28T00:00:00Z"])
        XCTAssertEqual(boundaries(.annual, anchor: anchor, indexes: -24...(-24)), ["2000-02-29T00:00:00Z"])
        XCTAssertEqual(boundaries(.annual, anchor: anchor, indexes: -124...(-124)), ["1900-02-28T00:00:00Z"])
    }

    func testQuarterlyFromNovember30() {
        XCTAssertEqual(boundaries(.quarterly, anchor: "2024-11-30T06:00:00Z", indexes: -1...4), [
            "2024-08-30T06:00:00Z", "2024-11-30T06:00:00Z", "2025-02-28T06:00:00Z",
            "2025-05-30T06:00:00Z", "2025-08-30T06:00:00Z", "2025-11-30T06:00:00Z",
        ])
    }

    func testFixedPeriodsStepExactly() {
        let anchor = instant("2024-01-01T13:45:00Z")
        XCTAssertEqual(BillingPeriod.daily.boundary(index: -3, anchorMilliseconds: anchor), anchor - 3 * 86_400_000)
        XCTAssertEqual(BillingPeriod.weekly.boundary(index: 2, anchorMilliseconds: anchor), anchor + 2 * 604_800_000)
        let bounds = BillingPeriod.daily.periodBounds(containing: instant("2023-12-31T13:44:59.999Z"),
                                                      anchorMilliseconds: anchor)
        XCTAssertEqual(bounds.startMilliseconds, instant("2023-12-30T13:45:00Z"))
        XCTAssertEqual(bounds.endMilliseconds, instant("2023-12-31T13:45:00Z"))
        let weekly = BillingPeriod.weekly.periodBounds(containing: -1, anchorMilliseconds: 0)
        XCTAssertEqual(weekly.startMilliseconds, -604_800_000)
        XCTAssertEqual(weekly.endMilliseconds, 0)
        XCTAssertEqual(BillingPeriod.daily.fixedLengthMilliseconds, 86_400_000)
        XCTAssertEqual(BillingPeriod.weekly.fixedLengthMilliseconds, 604_800_000)
        XCTAssertNil(BillingPeriod.monthly.fixedLengthMilliseconds)
        XCTAssertEqual(BillingPeriod.allCases.map(\.monthsPerPeriod), [nil, nil, 1, 3, 12])
    }

    func testInstantOnBoundaryStartsThePeriodAndOneMillisecondBeforeEndsThePrevious() {
        let anchors = ["2023-01-31T10:00:00Z", "2024-02-29T00:00:00Z", "1969-12-31T23:59:59.999Z", "1700-03-31T12:30:00Z"]
        for period in BillingPeriod.allCases {
            for anchorText in anchors {
                let anchor = instant(anchorText)
                for index: Int64 in [-13, -1, 0, 1, 2, 11, 12, 49] {
                    let boundary = period.boundary(index: index, anchorMilliseconds: anchor)
                    let next = period.boundary(index: index + 1, anchorMilliseconds: anchor)
                    let previous = period.boundary(index: index - 1, anchorMilliseconds: anchor)
                    let context = "\(period) anchor \(anchorText) index \(index)"
                    let onBoundary = period.periodBounds(containing: boundary, anchorMilliseconds: anchor)
                    XCTAssertEqual(onBoundary.startMilliseconds, boundary, context)
                    XCTAssertEqual(onBoundary.endMilliseconds, next, context)
                    let justBefore = period.periodBounds(containing: boundary - 1, anchorMilliseconds: anchor)
                    XCTAssertEqual(justBefore.startMilliseconds, previous, context)
                    XCTAssertEqual(justBefore.endMilliseconds, boundary, context)
                    XCTAssertEqual(period.periodIndex(containing: boundary, anchorMilliseconds: anchor), index, context)
                    XCTAssertEqual(period.periodIndex(containing: boundary - 1, anchorMilliseconds: anchor), index - 1)
                }
            }
        }
    }

    func testSameMonthAsBoundaryButBeforeAnchorTimeOfDay() {
        let anchor = instant("2023-01-31T10:00:00Z")
        let bounds = BillingPeriod.monthly.periodBounds(containing: instant("2023-03-31T09:59:59.999Z"),
                                                        anchorMilliseconds: anchor)
        XCTAssertEqual(CivilTime.rfc3339(milliseconds: bounds.startMilliseconds), "2023-02-28T10:00:00Z")
        XCTAssertEqual(CivilTime.rfc3339(milliseconds: bounds.endMilliseconds), "2023-03-31T10:00:00Z")
        let early = BillingPeriod.monthly.periodBounds(containing: instant("2023-03-01T00:00:00Z"), anchorMilliseconds: anchor)
        XCTAssertEqual(CivilTime.rfc3339(milliseconds: early.startMilliseconds), "2023-02-28T10:00:00Z")
    }

    /// Anchors biased toward the awkward days: the 28th to 31st and February 29.
    private func randomAnchor(using generator: inout SplitMix64, oracle: TimeOracle) -> Int64 {
        var fields = oracle.fields(milliseconds: oracle.randomInstant(using: &generator))
        switch Int.random(in: 0..<4, using: &generator) {
        case 0:
            fields.day = CivilTime.daysInMonth(year: fields.year, month: fields.month)
        case 1:
            fields.year -= CivilTime.isLeapYear(fields.year) ? 0 : Int64(fields.year % 4)  // a leap year or a century
            fields.month = 2
            fields.day = CivilTime.daysInMonth(year: fields.year, month: 2)
        case 2:
            fields.day = Int.random(in: 28...CivilTime.daysInMonth(year: fields.year, month: fields.month), using: &generator)
        default:
            break
        }
        return oracle.milliseconds(year: Int(fields.year), month: fields.month, day: fields.day, hour: fields.hour,
                                   minute: fields.minute, second: fields.second) + Int64(fields.millisecond)
    }

    func testCalendarPeriodsMatchFoundation() {
        let oracle = TimeOracle()
        var generator = TestSeed.generator(for: #function)
        let seed = TestSeed.value
        for iteration in 0..<1_500 {
            let period = [BillingPeriod.monthly, .quarterly, .annual][iteration % 3]
            let months = Int(period.monthsPerPeriod!)
            let anchor = randomAnchor(using: &generator, oracle: oracle)
            var target = oracle.randomInstant(using: &generator)
            if iteration % 5 == 0 {  // land exactly on, or 1 ms before, a Foundation boundary
                let index = Int.random(in: -40...40, using: &generator)
                let onBoundary = oracle.adding(months: index * months, to: anchor) - Int64(iteration % 2)
                if onBoundary >= oracle.earliestMilliseconds && onBoundary <= oracle.latestMilliseconds {
                    target = onBoundary  // otherwise Foundation would switch to the Julian calendar
                }
            }
            let oracleBoundary = { (index: Int) in oracle.adding(months: index * months, to: anchor) }
            var index = oracle.monthDistance(fromMilliseconds: anchor, toMilliseconds: target) / months
            while oracleBoundary(index) > target { index -= 1 }
            while oracleBoundary(index + 1) <= target { index += 1 }

            let bounds = period.periodBounds(containing: target, anchorMilliseconds: anchor)
            let context = "\(period) anchor \(CivilTime.rfc3339(milliseconds: anchor)) "
                + "instant \(CivilTime.rfc3339(milliseconds: target)) seed \(seed)"
            XCTAssertEqual(bounds.startMilliseconds, oracleBoundary(index), context)
            XCTAssertEqual(bounds.endMilliseconds, oracleBoundary(index + 1), context)
            XCTAssertEqual(period.periodIndex(containing: target, anchorMilliseconds: anchor), Int64(index), context)
            XCTAssertTrue(bounds.startMilliseconds <= target && target < bounds.endMilliseconds, context)
        }
    }

    func testBoundariesMatchFoundation() {
        let oracle = TimeOracle()
        var generator = TestSeed.generator(for: #function)
        for iteration in 0..<1_500 {
            let period = [BillingPeriod.monthly, .quarterly, .annual][iteration % 3]
            let months = Int(period.monthsPerPeriod!)
            let anchor = randomAnchor(using: &generator, oracle: oracle)
            let anchorYear = Int(oracle.fields(milliseconds: anchor).year)
            let reachableMonths = (1600 - anchorYear) * 12 ... (2400 - anchorYear) * 12
            let index = Int.random(in: reachableMonths, using: &generator) / months
            XCTAssertEqual(period.boundary(index: Int64(index), anchorMilliseconds: anchor),
                           oracle.adding(months: index * months, to: anchor),
                           "\(period) anchor \(anchor) index \(index) seed \(TestSeed.value)")
        }
    }

    func testFixedPeriodsAgainstDefinition() {
        var generator = TestSeed.generator(for: #function)
        let range: ClosedRange<Int64> = -11_676_096_000_000...13_601_088_000_000  // 1600 to 2401
        for period in [BillingPeriod.daily, .weekly] {
            let length = period.fixedLengthMilliseconds!
            for _ in 0..<2_000 {
                let anchor = Int64.random(in: range, using: &generator)
                let target = Int64.random(in: range, using: &generator)
                let bounds = period.periodBounds(containing: target, anchorMilliseconds: anchor)
                let context = "\(period) anchor \(anchor) instant \(target) seed \(TestSeed.value)"
                XCTAssertTrue(bounds.startMilliseconds <= target && target < bounds.endMilliseconds, context)
                XCTAssertEqual(bounds.endMilliseconds - bounds.startMilliseconds, length, context)
                XCTAssertEqual((bounds.startMilliseconds - anchor) % length, 0, context)
            }
        }
    }

    func testInstantsCenturiesAwayKeepTheAnchorDayAndTime() {
        let anchor = instant("2024-01-31T10:15:30.250Z")
        let targets: [Int64] = [
            CivilTime.milliseconds(CivilDateTime(year: 9_999, month: 3, day: 31, hour: 10, minute: 15, second: 30)),
            CivilTime.milliseconds(CivilDateTime(year: 250_000, month: 2, day: 15)),
            CivilTime.milliseconds(CivilDateTime(year: -50_000, month: 4, day: 30, hour: 23)),
            -1,
        ]
        for period in [BillingPeriod.monthly, .quarterly, .annual] {
            for target in targets {
                let bounds = period.periodBounds(containing: target, anchorMilliseconds: anchor)
                let context = "\(period) instant \(CivilTime.rfc3339(milliseconds: target))"
                XCTAssertTrue(bounds.startMilliseconds <= target && target < bounds.endMilliseconds, context)
                let index = period.periodIndex(containing: target, anchorMilliseconds: anchor)
                XCTAssertEqual(period.boundary(index: index, anchorMilliseconds: anchor), bounds.startMilliseconds)
                for edge in [bounds.startMilliseconds, bounds.endMilliseconds] {
                    let fields = CivilTime.components(milliseconds: edge)
                    XCTAssertEqual(fields.day, min(31, CivilTime.daysInMonth(year: fields.year, month: fields.month)))
                    XCTAssertEqual([fields.hour, fields.minute, fields.second, fields.millisecond], [10, 15, 30, 250])
                    XCTAssertEqual(Int64(fields.month - 1) % period.monthsPerPeriod!, 0, context)  // anchor month is January
                }
            }
        }
    }
}
