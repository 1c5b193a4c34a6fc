/// Everything the state machine keeps for one meter: its definition, the compiled filters,
/// the group index and the series of buckets.
///
/// Hot stored properties are marked `@exclusivity(unchecked)`: the state machine runs on one
/// thread and never overlaps two accesses to one of them, and the dynamic exclusivity checks of
/// class properties cost about 1000 instructions per applied event (see docs/component-benchmarks.md).
final class MeterState {
    @exclusivity(unchecked) var meter: Meter
    let kind: AggregationKind
    let field: PropertyKey?
    /// Filters compiled to sets for the hot path.
    let filters: [(key: PropertyKey, values: StringTable<Bool>)]
    let groupBy: [PropertyKey]
    /// Distinct group-by value tuples seen, and their index (0 is reserved for "no group-by").
    @exclusivity(unchecked) var groups: [[String?]] = []
    @exclusivity(unchecked) var groupIndex: [[String?]: UInt32] = [:]
    /// The series (customer, group) and their buckets, compactly (see `SeriesStore`).
    @exclusivity(unchecked) var store: SeriesStore
    /// Each customer's usage in their newest period, kept while the meter has an entitlement or
    /// a threshold rule (derived; not in snapshots). See `RunningTotals`.
    @exclusivity(unchecked) var runningTotals: RunningTotals?

    init(meter: Meter) {
        self.meter = meter
        self.kind = meter.definition.aggregation.kind
        self.field = meter.definition.aggregation.field.map(PropertyKey.init)
        self.filters = meter.definition.filters.map { filter in
            var values = StringTable<Bool>(minimumCapacity: filter.values.count)
            for value in filter.values { values.set(true, for: value) }
            return (PropertyKey(filter.key), values)
        }
        self.groupBy = meter.definition.groupBy.map(PropertyKey.init)
        store = SeriesStore(kind: kind, grouped: !meter.definition.groupBy.isEmpty)
        if groupBy.isEmpty {
            groups = [[]]
            groupIndex = [[]: 0]
        }
    }

    /// What `event` brings to this meter before any bucket is touched: nothing (filtered out,
    /// or its value is missing) or its units and, for COUNT_UNIQUE, its distinct value.
    enum Measurement {
        case skipped(EventOutcome)
        case measured(units: Int128, uniqueValue: String?)
    }

    /// Whether `event` passes the filters and carries the aggregated value. Changes nothing.
    @inline(__always)
    func measure<Event: MeterEvent>(_ event: Event) -> Measurement {
        for filter in filters {
            guard event.passesFilter(filter.key, values: filter.values) else {
                return .skipped(.filteredOut)
            }
        }
        guard let field else { return .measured(units: 0, uniqueValue: nil) }
        if kind == .countUnique {
            guard let value = event.canonicalText(field) else { return .skipped(.missingValue) }
            return .measured(units: 0, uniqueValue: value)
        }
        guard let units = event.numericUnits(field) else { return .skipped(.missingValue) }
        return .measured(units: units, uniqueValue: nil)
    }

    /// Decides whether `event` counts and, if it does, folds it into its bucket. Generic so that
    /// a decoded `UsageEvent` and an event read from a log record's bytes count by the same code.
    @inline(__always)
    func count<Event: MeterEvent>(
        _ event: Event, customerIndex: UInt32, sequence: UInt64, index: UInt32, rolledBeforeMinute: Int64
    ) -> EventOutcome {
        let units: Int128
        let uniqueValue: String?
        switch measure(event) {
        case .skipped(let outcome):
            if outcome == .filteredOut { meter.counters.filteredOut += 1 } else { meter.counters.missingValue += 1 }
            return outcome
        case .measured(let measuredUnits, let measuredValue):
            units = measuredUnits
            uniqueValue = measuredValue
        }
        let series = store.seriesCreating(customer: customerIndex, group: groupNumber(for: event))
        let minute = event.timestampMilliseconds.flooredDivision(by: 60_000)
        let tier: SeriesStore.Tier
        let bucketKey: Int64
        let bucketStart: Int64
        if minute >= rolledBeforeMinute {
            tier = .minutes
            bucketKey = minute
            bucketStart = minute &* 60_000
        } else {
            tier = .hours
            bucketKey = minute.flooredDivision(by: 60)
            bucketStart = bucketKey &* 3_600_000
        }
        let (added, valueNumber) = store.add(units, series: series, tier: tier, key: bucketKey, uniqueValue: uniqueValue,
                                             timestamp: event.timestampMilliseconds, sequence: sequence, index: index)
        guard added else {
            meter.counters.overflowed += 1
            return .overflow
        }
        if let runningTotals {
            runningTotals.add(customerIndex: customerIndex, bucketStart: bucketStart, units: units, uniqueValue: valueNumber,
                              timestamp: event.timestampMilliseconds, sequence: sequence, index: index)
        }
        meter.counters.counted += 1
        return .counted
    }

    /// The event's group-by values, in the meter's group-by order (empty without group-by).
    @inline(__always)
    func groupValues<Event: MeterEvent>(for event: Event) -> [String?] {
        groupBy.map { event.canonicalText($0) }
    }

    @inline(__always)
    private func groupNumber<Event: MeterEvent>(for event: Event) -> UInt32 {
        if groupBy.isEmpty { return 0 }
        let values = groupValues(for: event)
        if let number = groupIndex[values] { return number }
        let number = UInt32(groups.count)
        groups.append(values)
        groupIndex[values] = number
        return number
    }

    func rollUp(beforeMinute cutoffMinute: Int64) {
        store.rollUp(beforeMinute: cutoffMinute)
    }
}
