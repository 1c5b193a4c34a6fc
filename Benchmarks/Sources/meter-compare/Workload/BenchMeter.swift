/// The three meters of the comparison workload, defined the same way in every system.
///
/// - `tokens_used`: the meter guide's example, SUM of `tokens`, filter `model` in llama3.1, llama3.2.
/// - `api_requests`: COUNT, filter `method` in POST, PUT.
/// - `active_users`: COUNT_UNIQUE of `user`.
///
/// All three reset monthly (PERIODIC, MONTHLY, calendar months in UTC).
enum BenchMeter: Int, CaseIterable, Sendable, Codable {
    case tokensUsed = 0
    case apiRequests = 1
    case activeUsers = 2

    /// The event name events carry and the meter is keyed by.
    var eventName: String {
        switch self {
        case .tokensUsed: "tokens_used"
        case .apiRequests: "api_requests"
        case .activeUsers: "active_users"
        }
    }

    var displayName: String {
        switch self {
        case .tokensUsed: "Tokens Used"
        case .apiRequests: "API Requests"
        case .activeUsers: "Active Users"
        }
    }

    /// The filter property and its accepted values; nil when the meter has no filter.
    var filter: (key: String, values: [String])? {
        switch self {
        case .tokensUsed: ("model", ["llama3.1", "llama3.2"])
        case .apiRequests: ("method", ["POST", "PUT"])
        case .activeUsers: nil
        }
    }

    enum Aggregation: String, Sendable { case sum = "SUM", count = "COUNT", countUnique = "COUNT_UNIQUE" }

    var aggregation: Aggregation {
        switch self {
        case .tokensUsed: .sum
        case .apiRequests: .count
        case .activeUsers: .countUnique
        }
    }

    /// The property SUM adds up or COUNT_UNIQUE counts distinct values of; nil for COUNT.
    var field: String? {
        switch self {
        case .tokensUsed: "tokens"
        case .apiRequests: nil
        case .activeUsers: "user"
        }
    }
}
