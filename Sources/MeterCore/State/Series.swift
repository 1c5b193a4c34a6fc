/// The buckets of one (meter, customer, group) combination.
///
/// Recent usage lives in minute buckets keyed by minutes since the epoch; usage older than the
/// minute retention is rolled into hour buckets keyed by hours since the epoch. A bucket is in
/// exactly one of the two tiers. COUNT_UNIQUE meters keep the distinct values per bucket too,
/// because distinct counts cannot be added up.
///
/// Hot stored properties are marked `@exclusivity(unchecked)`: the state machine runs on one
/// thread and never overlaps two accesses to one of them, and the dynamic exclusivity checks of
/// class properties cost about 1000 instructions per applied event (see docs/component-benchmarks.md).
final class Series {
    @exclusivity(unchecked) var minutes = BucketList()
    @exclusivity(unchecked) var hours = BucketList()
    @exclusivity(unchecked) var uniqueMinutes: [Int64: Set<String>] = [:]
    @exclusivity(unchecked) var uniqueHours: [Int64: Set<String>] = [:]

    init() {}

    /// Moves every minute bucket that starts before `cutoffMinute` into its hour bucket.
    func rollUp(beforeMinute cutoffMinute: Int64, kind: AggregationKind) {
        guard let first = minutes.keys.first, first < cutoffMinute else { return }
        let end = minutes.lowerBound(cutoffMinute)
        var rolled = 0
        for position in 0..<end {
            let minute = minutes.keys[position]
            let hour = minute.flooredDivision(by: 60)
            // A sum beyond 10^29 stops the roll-up here; a query over it reports the overflow.
            guard hours.merge(minutes.aggregates[position], into: hour, kind: kind) else { break }
            if kind == .countUnique, let values = uniqueMinutes.removeValue(forKey: minute) {
                uniqueHours[hour, default: []].formUnion(values)
            }
            rolled += 1
        }
        minutes.removeFirst(rolled)
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
