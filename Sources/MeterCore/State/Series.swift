/// The buckets of one (meter, customer, group) combination.
///
/// Recent usage lives in minute buckets keyed by minutes since the epoch; usage older than the
/// minute retention is rolled into hour buckets keyed by hours since the epoch. A bucket is in
/// exactly one of the two tiers. COUNT_UNIQUE meters keep the distinct values per bucket too,
/// because distinct counts cannot be added up.
final class Series {
    var minutes: [Int64: Aggregate] = [:]
    var hours: [Int64: Aggregate] = [:]
    var uniqueMinutes: [Int64: Set<String>] = [:]
    var uniqueHours: [Int64: Set<String>] = [:]
    /// Smallest minute key present, so a roll-up can skip series with nothing to roll.
    var oldestMinute: Int64 = .max

    init() {}

    /// Moves every minute bucket that starts before `cutoffMinute` into its hour bucket.
    func rollUp(beforeMinute cutoffMinute: Int64, kind: AggregationKind) {
        guard oldestMinute < cutoffMinute else { return }
        var remainingOldest = Int64.max
        var rolled: [Int64] = []
        for minute in minutes.keys {
            if minute < cutoffMinute { rolled.append(minute) } else { remainingOldest = Swift.min(remainingOldest, minute) }
        }
        for minute in rolled {
            let hour = minute.flooredDivision(by: 60)
            // A failed merge (a sum beyond 10^29) keeps the minute; a query over it reports the overflow.
            guard let aggregate = minutes[minute],
                  let merged = hours[hour, default: .empty].merged(with: aggregate, kind: kind)
            else {
                remainingOldest = Swift.min(remainingOldest, minute)
                continue
            }
            hours[hour] = merged
            minutes[minute] = nil
            if kind == .countUnique, let values = uniqueMinutes.removeValue(forKey: minute) {
                uniqueHours[hour, default: []].formUnion(values)
            }
        }
        oldestMinute = remainingOldest
    }
}

extension Int64 {
    /// Division rounding towards negative infinity, so instants before 1970 land in the right bucket.
    @inline(__always)
    func flooredDivision(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
