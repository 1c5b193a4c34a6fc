@testable import MeterCore
import XCTest

/// A query is refused before its work when its answer would exceed `UsageQuery.rowsMaximumCount`
/// rows (windows x output groups), and answered in full up to that bound.
final class QuerySizeLimitTests: XCTestCase {
    private func harnessWithCustomers(_ count: Int) throws -> Harness {
        let harness = Harness()
        try harness.create(MeterDefinition(eventName: "api_calls", displayName: "API Calls", aggregation: .count, reset: .cumulative, groupBy: ["region"]))
        harness.ingest((0..<count).map { number in
            event("e\(number)", "api_calls", customer: "customer-\(number)", ["region": .string(number.isMultiple(of: 2) ? "eu" : "us")])
        })
        return harness
    }

    /// The shape of the reported defect: hourly windows over years for every customer.
    func testHourlyWindowsOverYearsForEveryCustomerAreRefusedWithTheRowCount() throws {
        let harness = try harnessWithCustomers(30)
        let query = UsageQuery(meter: .eventName("api_calls"), fromMilliseconds: baseTime - 3_000 * 24 * hour,
                               toMilliseconds: baseTime + hour, windowSize: .hour, groupByCustomer: true)
        XCTAssertThrowsError(try harness.machine.usage(query)) { error in
            guard let meterError = error as? MeterError else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(meterError.code, .invalidQuery)
            XCTAssertTrue(meterError.message.contains("30 groups x 72001 windows"), meterError.message)
        }
        // The same range for one customer fits (72,001 rows) and is answered in full.
        var oneCustomer = query
        oneCustomer.groupByCustomer = false
        oneCustomer.customerId = "customer-7"
        let rows = try harness.machine.usage(oneCustomer).rows
        XCTAssertEqual(rows.count, 72_001)
        XCTAssertEqual(rows.last?.value, ExactDecimal(1))
    }

    func testTheBoundCountsGroupsAfterGroupFiltersAndIsInclusive() throws {
        let harness = try harnessWithCustomers(4)
        // 2 groups (eu, us) x 50,000 windows = exactly the bound: answered.
        let windows: Int64 = 50_000
        // Minute windows from the events' minute on (old minutes are kept per hour only).
        var query = UsageQuery(meter: .eventName("api_calls"), fromMilliseconds: baseTime,
                               toMilliseconds: baseTime + windows * minute, windowSize: .minute, groupBy: ["region"])
        XCTAssertEqual(try harness.machine.usage(query).rows.count, 100_000)
        // One more window over the bound: refused.
        query.toMilliseconds += minute
        XCTAssertThrowsError(try harness.machine.usage(query))
        // With a group filter only one group remains, which fits again.
        query.groupFilters = [MeterFilter(key: "region", values: ["eu"])]
        let rows = try harness.machine.usage(query).rows
        XCTAssertEqual(rows.count, 50_001)
        // A running total (the meter is CUMULATIVE): both events of region eu from the first window on.
        XCTAssertEqual(rows.first?.value, ExactDecimal(2))
        XCTAssertEqual(rows.last?.value, ExactDecimal(2))
    }
}
