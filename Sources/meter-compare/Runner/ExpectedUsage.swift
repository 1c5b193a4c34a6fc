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
            dailyTotals[event.meter, default: [:]][UTCCalendar.dayStart(event.timestampMs), default: 0] += amount
        }
        guard sampleCustomers.contains(event.customer) else { return }
        let month = UTCCalendar.monthStart(event.timestampMs)
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

/// UTC civil dates with integer arithmetic (days from civil, Howard Hinnant's algorithm).
enum UTCCalendar {
    static let dayMs: Int64 = 86_400_000

    static func dayStart(_ ms: Int64) -> Int64 { floorDivide(ms, dayMs) * dayMs }

    static func monthStart(_ ms: Int64) -> Int64 {
        let (year, month, _) = civil(fromDays: floorDivide(ms, dayMs))
        return days(year: year, month: month, day: 1) * dayMs
    }

    static func nextMonthStart(_ ms: Int64) -> Int64 {
        let (year, month, _) = civil(fromDays: floorDivide(ms, dayMs))
        return (month == 12 ? days(year: year + 1, month: 1, day: 1) : days(year: year, month: month + 1, day: 1)) * dayMs
    }

    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civil(fromDays value: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = value + 719_468
        let era = floorDivide(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthPrime = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthPrime + 2) / 5 + 1
        let month = monthPrime < 10 ? monthPrime + 3 : monthPrime - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }
}
