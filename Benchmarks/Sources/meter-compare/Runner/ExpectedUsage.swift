/// What the systems must answer, computed by the harness from the events it knows were
/// acknowledged: usage of a few sample customers per meter and month, and daily totals over
/// all customers. Every system is checked against it, so they are checked against each other.
struct ExpectedUsage: Sendable {
    let sampleCustomers: Set<String>
    /// meter -> customer -> month start (ms) -> SUM/COUNT total.
    private(set) var totals: [BenchMeter: [String: [Int64: Int64]]] = [:]
    /// customer -> month start (ms) -> distinct users (active_users).
    private(set) var uniqueUsers: [String: [Int64: Set<String>]] = [:]
    /// meter -> UTC day start (ms) -> total over all customers.
    private(set) var dailyTotals: [BenchMeter: [Int64: Int64]] = [:]

    init(sampleCustomers: Set<String>) { self.sampleCustomers = sampleCustomers }

    mutating func add(_ event: BenchEvent) {
        guard let amount = event.amount else { return }
        if event.meter != .activeUsers {
            dailyTotals[event.meter, default: [:]][UTCCivilDate.dayStart(event.timestampMs), default: 0] += amount
        }
        guard sampleCustomers.contains(event.customer) else { return }
        let month = UTCCivilDate.monthStart(event.timestampMs)
        if let user = event.uniqueValue {
            uniqueUsers[event.customer, default: [:]][month, default: []].insert(user)
        } else {
            totals[event.meter, default: [:]][event.customer, default: [:]][month, default: 0] += amount
        }
    }

    mutating func add(_ events: some Sequence<BenchEvent>) {
        for event in events { add(event) }
    }

    func periodUsage(meter: BenchMeter, customer: String, monthStartMs: Int64) -> Int64 {
        if meter == .activeUsers { return Int64(uniqueUsers[customer]?[monthStartMs]?.count ?? 0) }
        return totals[meter]?[customer]?[monthStartMs] ?? 0
    }

    func daily(meter: BenchMeter, fromMs: Int64, days: Int) -> [Int64] {
        (0..<days).map { dailyTotals[meter]?[fromMs + Int64($0) * 86_400_000] ?? 0 }
    }
}
