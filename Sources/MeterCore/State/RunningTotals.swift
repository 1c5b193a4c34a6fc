/// The running usage of each customer of one meter in the customer's newest billing period (the
/// lifetime of a CUMULATIVE meter), so that a threshold evaluation or an entitlement check reads
/// one number instead of folding the period's buckets.
///
/// Derived state, never written into snapshots: a customer's slot is created on the first read
/// by folding their buckets once (`MeterStateMachine.periodUsage`), and from then on kept up to
/// date by `MeterState.count` for every event it aggregates. Whenever it exists, a slot holds:
///
/// - exactly the merge of the customer's buckets whose start lies in `[start, end)` (what the
///   usage fold merges for that period), and
/// - the promise that no bucket of the customer starts at or after `end`.
///
/// So a read of the slot's period is the slot, a read of a later period is empty, and only a read
/// of an earlier period (a late event's threshold, a check of a past instant) folds. An event
/// attributed to a later period starts a new slot from zero (the period rollover); a late event
/// (earlier period) leaves the slot alone. Events are attributed by the start of the bucket they
/// went into, as the fold does; billing period bounds are whole hours (the anchor is validated
/// to be one), so rolling minutes into hours never moves a bucket to another period.
///
/// Memory: one `RunningTotal` (96 bytes, 100-135 with the dictionary's key and spare room) per customer with
/// usage on a meter that has an entitlement or a threshold rule, plus, for COUNT_UNIQUE, the
/// distinct values of that customer's current period (the buckets hold them too).
final class RunningTotals {
    let kind: AggregationKind
    let reset: ResetPolicy
    @exclusivity(unchecked) var slots: [UInt32: RunningTotal] = [:]
    /// True once a check of this meter went through the engine's `EntitlementCheckView`: then
    /// `changed` collects the customers with events since the writer last published them
    /// (with or without a slot: the writer makes the missing slots, see
    /// `MeterStateMachine.publishCheckViewChanges`).
    var watched = false
    @exclusivity(unchecked) var changed: Set<UInt32> = []

    init(kind: AggregationKind, reset: ResetPolicy) {
        self.kind = kind
        self.reset = reset
    }

    /// The bounds a bucket starting at `instant` is attributed to: its billing period, or the
    /// whole supported range for a CUMULATIVE meter.
    func bounds(containing instant: Int64) -> (start: Int64, end: Int64) {
        guard case .periodic(let period, let anchor) = reset else { return (.min, UsageQuery.latestMilliseconds) }
        let bounds = period.periodBounds(containing: instant, anchorMilliseconds: anchor)
        return (bounds.startMilliseconds, bounds.endMilliseconds)
    }

    /// Counts one event the meter just aggregated into the bucket starting at `bucketStart`.
    /// Customers without a slot are skipped: their first read folds the buckets, this event included.
    @inline(__always)
    func add(customerIndex: UInt32, bucketStart: Int64, units: Int128, uniqueValue: UInt32?,
             timestamp: Int64, sequence: UInt64, index: UInt32) {
        // Mutated in place through the index: a copy out and back would copy COUNT_UNIQUE's set.
        guard let position = slots.index(forKey: customerIndex) else {
            if watched { changed.insert(customerIndex) }  // the writer makes its slot for the view
            return
        }
        let start = slots.values[position].start, end = slots.values[position].end
        if bucketStart < start { return }  // late: an earlier period, folded when read
        if bucketStart >= end {
            let next = bounds(containing: bucketStart)
            guard next.start >= end else { return }  // beyond the supported range (CUMULATIVE)
            slots.values[position] = RunningTotal(start: next.start, end: next.end)  // rollover: the new period starts at zero
        }
        slots.values[position].add(units, uniqueValue: uniqueValue, kind: kind, timestamp: timestamp, sequence: sequence, index: index)
        if watched { changed.insert(customerIndex) }
    }
}

/// One customer's usage over `[start, end)`: the merged aggregate, the distinct values for
/// COUNT_UNIQUE, and whether a merge overflowed (then every read of it reports the overflow, as
/// the fold does).
struct RunningTotal {
    var start: Int64
    var end: Int64
    var aggregate = Aggregate.empty
    /// The distinct values' numbers in the meter's `SeriesStore.uniqueValues`.
    var uniques: Set<UInt32> = []
    var overflowed = false

    /// A slot that promises nothing was ever counted: every period is empty.
    static let nothingYet = RunningTotal(start: .min, end: .min)

    @inline(__always)
    mutating func add(_ units: Int128, uniqueValue: UInt32?, kind: AggregationKind, timestamp: Int64, sequence: UInt64, index: UInt32) {
        if !aggregate.add(units, kind: kind, timestamp: timestamp, sequence: sequence, index: index) { overflowed = true }
        if let uniqueValue { uniques.insert(uniqueValue) }
    }

    mutating func merge(_ other: Aggregate, kind: AggregationKind) {
        if let merged = aggregate.merged(with: other, kind: kind) { aggregate = merged } else { overflowed = true }
    }
}
