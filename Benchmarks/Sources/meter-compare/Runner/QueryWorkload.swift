import Histogram

/// Usage queries after the data is loaded: the current billing period of one customer (what a
/// billing page asks), and a daily series over 30 days for all customers (what a dashboard asks).
enum QueryWorkload {
    static func periodOneCustomer(_ system: any BenchSystem, customers: [String], monthStartMs: Int64, monthEndMs: Int64) throws -> BenchResults.QueryRun {
        let connection = try system.connect()
        defer { connection.close() }
        let histogram = try measure(customers.count) { index in
            _ = try connection.periodUsage(meter: .tokensUsed, customer: customers[index], fromMs: monthStartMs, toMs: monthEndMs)
        }
        return result(system, "period-one-customer", "tokens_used usage of one customer in the current month", histogram)
    }

    static func dailyAllCustomers(_ system: any BenchSystem, count: Int, fromMs: Int64) throws -> BenchResults.QueryRun {
        let connection = try system.connect()
        defer { connection.close() }
        let histogram = try measure(count) { _ in
            _ = try connection.dailyTotals(meter: .tokensUsed, fromMs: fromMs, days: 30)
        }
        return result(system, "daily-30-days-all-customers", "tokens_used total per UTC day over 30 days, all customers", histogram)
    }

    private static func measure(_ count: Int, _ query: (Int) throws -> Void) throws -> Histogram<UInt64> {
        var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        for index in 0..<count {
            let began = monotonicSeconds()
            try query(index)
            _ = histogram.record(UInt64((monotonicSeconds() - began) * 1e6))
        }
        return histogram
    }

    private static func result(_ system: any BenchSystem, _ query: String, _ description: String, _ histogram: Histogram<UInt64>) -> BenchResults.QueryRun {
        BenchResults.QueryRun(
            system: system.key, query: query, description: description, count: Int(histogram.totalCount),
            p50Microseconds: Double(histogram.valueAtPercentile(50)), p99Microseconds: Double(histogram.valueAtPercentile(99)))
    }
}
