import MeterTestSupport

/// Deterministic events from a seed: event `i` is the same for every system and every run.
///
/// Timestamps advance with the index (time order, as live traffic arrives) with up to two
/// seconds of jitter backwards, so a few events land slightly out of order.
struct EventGenerator: Sendable {
    let seed: UInt64
    let customers: Int
    /// Timestamp of event 0, milliseconds since 1970.
    let startMs: Int64
    /// Milliseconds between consecutive events (may be fractional).
    let stepMs: Double

    static let models = ["llama3.1", "llama3.2", "llama3.3"]
    static let methods = ["GET", "POST", "PUT", "DELETE"]
    static let paths = ["/v1/chat", "/v1/embeddings", "/v1/files", "/v1/models"]
    /// Distinct users per customer for `active_users`.
    static let usersPerCustomer = 40

    func event(_ index: Int) -> BenchEvent {
        var random = SplitMix64(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        let idHigh = random.next()
        let idLow = random.next()
        let customer = Int(random.next() % UInt64(customers))
        let kind = random.next() % 10
        let jitter = Int64(random.next() % 2000)
        let timestamp = startMs + Int64(Double(index) * stepMs) - jitter
        let meter: BenchMeter = kind < 7 ? .tokensUsed : (kind < 9 ? .apiRequests : .activeUsers)
        let properties: [(key: String, value: String)]
        switch meter {
        case .tokensUsed:
            properties = [("model", Self.models[Int(random.next() % 3)]), ("tokens", String(1 + random.next() % 4000))]
        case .apiRequests:
            properties = [("method", Self.methods[Int(random.next() % 4)]), ("path", Self.paths[Int(random.next() % 4)])]
        case .activeUsers:
            properties = [("user", "user-\(random.next() % UInt64(Self.usersPerCustomer))")]
        }
        return BenchEvent(
            id: Self.hex(idHigh) + Self.hex(idLow), meter: meter, customer: Self.customerName(customer),
            timestampMs: timestamp, properties: properties)
    }

    func events(_ range: Range<Int>) -> [BenchEvent] { range.map(event) }

    static func customerName(_ number: Int) -> String {
        let digits = String(number)
        return "cust-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
