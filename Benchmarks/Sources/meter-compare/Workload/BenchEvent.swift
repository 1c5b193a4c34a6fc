/// One usage event of the comparison workload. Every system is sent exactly these events.
struct BenchEvent: Sendable {
    /// 32 lowercase hex digits, unique per stream index (and per seed).
    var id: String
    var meter: BenchMeter
    /// "cust-00042"
    var customer: String
    /// Milliseconds since 1970 (UTC).
    var timestampMs: Int64
    /// The event's properties as text, in a fixed order:
    /// tokens_used: model, tokens; api_requests: method, path; active_users: user.
    var properties: [(key: String, value: String)]

    /// What the event adds to its meter, as the meter defines it (nil: filtered out).
    /// SUM: the `tokens` value; COUNT: 1; COUNT_UNIQUE: the `user` value (see `uniqueValue`).
    var amount: Int64? {
        if let filter = meter.filter {
            guard let value = property(filter.key), filter.values.contains(value) else { return nil }
        }
        switch meter.aggregation {
        case .sum: return property("tokens").flatMap { Int64($0) }
        case .count, .countUnique: return 1
        }
    }

    /// The value COUNT_UNIQUE counts distinct occurrences of.
    var uniqueValue: String? { meter == .activeUsers ? property("user") : nil }

    func property(_ key: String) -> String? {
        properties.first { $0.key == key }?.value
    }
}
