/// The running aggregate of one bucket (a minute or an hour of one series), or of a query window.
///
/// One layout serves every aggregation kind: `count` counts the events folded in, and `value`
/// holds the sum (SUM, AVG), the extreme (MIN, MAX) or the latest value (LATEST), in units of
/// 10^-9. LATEST breaks timestamp ties by log position, then by position in the batch, so the
/// answer never depends on arrival order within a minute. 48 bytes.
struct Aggregate: Hashable, Sendable {
    var count: Int64 = 0
    var value: Int128 = 0
    var latestTimestamp: Int64 = .min
    var latestSequence: UInt64 = 0
    var latestIndex: UInt32 = 0

    static let empty = Aggregate()

    /// Folds one event in. Returns false, changing nothing, when the value would overflow.
    @inline(__always)
    mutating func add(
        _ units: Int128, kind: AggregationKind, timestamp: Int64, sequence: UInt64, index: UInt32
    ) -> Bool {
        switch kind {
        case .count, .countUnique:
            break
        case .sum, .average:
            let (sum, overflow) = value.addingReportingOverflow(units)
            if overflow { return false }
            value = sum
        case .minimum:
            if count == 0 || units < value { value = units }
        case .maximum:
            if count == 0 || units > value { value = units }
        case .latest:
            if count == 0 || isBefore(timestamp, sequence, index) {
                value = units
                latestTimestamp = timestamp
                latestSequence = sequence
                latestIndex = index
            }
        }
        count += 1
        return true
    }

    @inline(__always)
    private func isBefore(_ timestamp: Int64, _ sequence: UInt64, _ index: UInt32) -> Bool {
        (latestTimestamp, latestSequence, latestIndex) < (timestamp, sequence, index)
    }

    /// Combines two aggregates of the same kind. Returns nil when a sum overflows.
    func merged(with other: Aggregate, kind: AggregationKind) -> Aggregate? {
        if other.count == 0 { return self }
        if count == 0 { return other }
        var result = self
        let (total, countOverflow) = count.addingReportingOverflow(other.count)
        if countOverflow { return nil }
        result.count = total
        switch kind {
        case .count, .countUnique:
            break
        case .sum, .average:
            let (sum, overflow) = value.addingReportingOverflow(other.value)
            if overflow { return nil }
            result.value = sum
        case .minimum:
            result.value = Swift.min(value, other.value)
        case .maximum:
            result.value = Swift.max(value, other.value)
        case .latest:
            if isBefore(other.latestTimestamp, other.latestSequence, other.latestIndex) {
                result.value = other.value
                result.latestTimestamp = other.latestTimestamp
                result.latestSequence = other.latestSequence
                result.latestIndex = other.latestIndex
            }
        }
        return result
    }
}
