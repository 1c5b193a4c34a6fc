/// The window boundaries of one query and the running aggregates per output row key.
///
/// Built once per query: checks the query against the meter, lays out the windows, then folds
/// every bucket of every matching series into the window it falls in. Buckets before the range
/// only matter for CUMULATIVE meters, whose values are running totals.
struct UsageQueryPlan {
    /// Identifies one output group: the customer (when grouping by customer) and the projected
    /// group-by values.
    struct OutputKey: Hashable {
        var customer: UInt32?
        var group: [String?]
    }

    /// Per output key: one aggregate per window plus what came before the range.
    struct Accumulator {
        var windows: [Aggregate]
        var before = Aggregate.empty
        /// Distinct values by their number in the meter's `SeriesStore.uniqueValues`.
        var uniqueWindows: [Set<UInt32>]
        var uniqueBefore: Set<UInt32> = []
    }

    let query: UsageQuery
    let kind: AggregationKind
    let multiplier: ExactDecimal?
    let cumulative: Bool
    /// Window boundaries: from, the aligned boundaries strictly inside the range, to.
    let boundaries: [Int64]
    /// For each requested group-by key, its position in the meter's group-by list.
    let projection: [Int]
    /// For each group filter, its position in the meter's group-by list and allowed values.
    let groupFilterChecks: [(position: Int, values: Set<String>)]
    var accumulators: [OutputKey: Accumulator] = [:]

    init(query: UsageQuery, state: MeterState, rolledBeforeMinute: Int64) throws(MeterError) {
        self.query = query
        let definition = state.meter.definition
        kind = definition.aggregation.kind
        multiplier = definition.aggregation.multiplier
        if case .cumulative = definition.reset { cumulative = true } else { cumulative = false }

        try Self.checkRange(from: query.fromMilliseconds, to: query.toMilliseconds)
        var projection: [Int] = []
        for key in query.groupBy {
            guard let position = definition.groupBy.firstIndex(of: key) else {
                throw MeterError(.invalidQuery, "cannot group by \(quoted(key)): the meter's group-by keys are \(definition.groupBy)")
            }
            guard !projection.contains(position) else {
                throw MeterError(.invalidQuery, "group-by key \(quoted(key)) appears twice")
            }
            projection.append(position)
        }
        self.projection = projection
        var checks: [(Int, Set<String>)] = []
        for filter in query.groupFilters {
            guard let position = definition.groupBy.firstIndex(of: filter.key) else {
                throw MeterError(.invalidQuery, "cannot filter on \(quoted(filter.key)): the meter's group-by keys are \(definition.groupBy)")
            }
            checks.append((position, Set(filter.values)))
        }
        groupFilterChecks = checks
        boundaries = try Self.boundaries(query: query)
        try Self.checkResolution(boundaries, rolledBeforeMinute: rolledBeforeMinute)
    }

    /// The checks of a query's range: inside 1970-9999, from before to, whole minutes.
    static func checkRange(from: Int64, to: Int64) throws(MeterError) {
        guard from >= UsageQuery.earliestMilliseconds, to <= UsageQuery.latestMilliseconds else {
            throw MeterError(.invalidQuery, "from and to must lie between 1970-01-01 and 9999-12-31")
        }
        guard from < to else {
            throw MeterError(.invalidQuery, "from must be before to")
        }
        guard from.isMultiple(of: 60_000), to.isMultiple(of: 60_000) else {
            throw MeterError(.invalidQuery, "from and to must be whole minutes (usage is kept per minute)")
        }
    }

    /// Old usage is kept per hour: every window edge in the hour-resolution past must be a whole hour.
    static func checkResolution(_ boundaries: [Int64], rolledBeforeMinute: Int64) throws(MeterError) {
        guard rolledBeforeMinute != .min else { return }
        let rolledBefore = rolledBeforeMinute * 60_000
        for boundary in boundaries where boundary < rolledBefore && !boundary.isMultiple(of: 3_600_000) {
            throw MeterError(.resolutionUnavailable, "usage before \(CivilTime.rfc3339(milliseconds: rolledBefore)) is kept per hour; use whole-hour bounds and windows of an hour or more there")
        }
    }

    private static func boundaries(query: UsageQuery) throws(MeterError) -> [Int64] {
        var boundaries = [query.fromMilliseconds]
        guard let size = query.windowSize else {
            boundaries.append(query.toMilliseconds)
            return boundaries
        }
        var next = size.windowEnd(startingAt: size.windowStart(containing: query.fromMilliseconds))
        while next < query.toMilliseconds {
            boundaries.append(next)
            guard boundaries.count <= UsageQuery.windowsMaximumCount else {
                throw MeterError(.invalidQuery, "the query spans more than \(UsageQuery.windowsMaximumCount) windows; use a larger window size or a shorter range")
            }
            next = size.windowEnd(startingAt: next)
        }
        boundaries.append(query.toMilliseconds)
        return boundaries
    }

    /// Windows in the answer, per output group.
    var windowCount: Int { boundaries.count - 1 }

    /// The output group a series of `customer` with `group` values folds into.
    func outputKey(customer: UInt32, group: [String?]) -> OutputKey {
        OutputKey(customer: query.groupByCustomer || query.customerId != nil ? customer : nil,
                  group: projection.map { group[$0] })
    }

    /// Refuses the query before any work when its answer would exceed `UsageQuery.rowsMaximumCount`
    /// rows: `groupCount` output groups times the windows.
    func checkRowCount(groupCount: Int) throws(MeterError) {
        let rows = Swift.max(groupCount, 1).multipliedReportingOverflow(by: windowCount)
        guard !rows.overflow, rows.partialValue <= UsageQuery.rowsMaximumCount else {
            throw MeterError(.invalidQuery, "the answer would hold \(groupCount) groups x \(windowCount) windows, more than \(UsageQuery.rowsMaximumCount) rows; use a larger window size, a shorter range, one customer, or fewer group-by keys")
        }
    }

    func passesGroupFilters(_ group: [String?]) -> Bool {
        for check in groupFilterChecks {
            guard let value = group[check.position], check.values.contains(value) else { return false }
        }
        return true
    }

    private func emptyAccumulator() -> Accumulator {
        let count = boundaries.count - 1
        return Accumulator(
            windows: Array(repeating: .empty, count: count),
            uniqueWindows: kind == .countUnique ? Array(repeating: [], count: count) : [])
    }

    /// Index of the window containing `instant`, which lies in [from, to).
    private func windowIndex(_ instant: Int64) -> Int {
        var low = 0
        var high = boundaries.count - 1
        while high - low > 1 {
            let middle = (low + high) / 2
            if boundaries[middle] <= instant { low = middle } else { high = middle }
        }
        return low
    }

    mutating func add(_ store: SeriesStore, series: Int, customer: UInt32, group: [String?]) throws(MeterError) {
        let key = outputKey(customer: customer, group: group)
        var accumulator = accumulators.removeValue(forKey: key) ?? emptyAccumulator()
        defer { accumulators[key] = accumulator }
        try fold(store.run(series, .minutes), of: store.pool, bucketMilliseconds: 60_000, into: &accumulator)
        try fold(store.run(series, .hours), of: store.pool, bucketMilliseconds: 3_600_000, into: &accumulator)
    }

    private func fold(
        _ buckets: PoolRun, of pool: BucketPool, bucketMilliseconds: Int64,
        into accumulator: inout Accumulator
    ) throws(MeterError) {
        let from = query.fromMilliseconds
        let to = query.toMilliseconds
        // Sorted keys: start at the range (or at the beginning for running totals), stop at `to`.
        let firstInRange = pool.lowerBound(buckets, from.flooredDivision(by: bucketMilliseconds))
        var position = cumulative ? 0 : firstInRange
        while position < buckets.count {
            let index = Int(buckets.start) + position
            let bucket = pool.buckets[index].key
            let aggregate = pool.aggregate(at: index)
            position += 1
            let start = bucket * bucketMilliseconds
            if start >= to { break }
            if start < from {
                guard cumulative else { continue }
                accumulator.before = try merge(accumulator.before, aggregate)
                if kind == .countUnique { pool.forEachUnique(at: index) { accumulator.uniqueBefore.insert($0) } }
                continue
            }
            let window = windowIndex(start)
            accumulator.windows[window] = try merge(accumulator.windows[window], aggregate)
            if kind == .countUnique { pool.forEachUnique(at: index) { accumulator.uniqueWindows[window].insert($0) } }
        }
    }

    private func merge(_ first: Aggregate, _ second: Aggregate) throws(MeterError) -> Aggregate {
        guard let merged = first.merged(with: second, kind: kind) else { throw Self.aggregateOverflow }
        return merged
    }

    static let aggregateOverflow = MeterError(.valueOverflow, "the aggregate exceeds the supported range of ±1.7×10^29")

    /// The rows of the answer, ordered by customer id, group values, then window.
    func rows(customers: [String]) throws(MeterError) -> [UsageRow] {
        var accumulators = self.accumulators
        let grouped = query.groupByCustomer || !query.groupBy.isEmpty
        if !grouped && accumulators.isEmpty {
            let customer: UInt32? = query.customerId == nil ? nil : UInt32.max
            accumulators[OutputKey(customer: customer, group: [])] = emptyAccumulator()
        }
        func customerName(_ key: OutputKey) -> String? {
            guard let customer = key.customer else { return nil }
            return customer == UInt32.max ? query.customerId : customers[Int(customer)]
        }
        let keys = accumulators.keys.sorted { first, second in
            let firstName = customerName(first) ?? "", secondName = customerName(second) ?? ""
            if firstName != secondName { return firstName < secondName }
            return first.group.lexicographicallyPrecedes(second.group) { ($0 ?? "") < ($1 ?? "") || ($0 == nil && $1 != nil) }
        }
        var rows: [UsageRow] = []
        for key in keys {
            let accumulator = accumulators[key]!
            let group = zip(query.groupBy, key.group).map { GroupValue(key: $0, value: $1) }
            var running = accumulator.before
            var runningUniques = accumulator.uniqueBefore
            for window in 0..<(boundaries.count - 1) {
                var aggregate = accumulator.windows[window]
                var uniques = kind == .countUnique ? accumulator.uniqueWindows[window] : []
                if cumulative {
                    running = try merge(running, aggregate)
                    aggregate = running
                    if kind == .countUnique {
                        runningUniques.formUnion(uniques)
                        uniques = runningUniques
                    }
                }
                rows.append(UsageRow(
                    windowStartMilliseconds: boundaries[window],
                    windowEndMilliseconds: boundaries[window + 1],
                    customerId: customerName(key),
                    group: group,
                    value: try value(of: aggregate, uniqueCount: uniques.count),
                    eventCount: aggregate.count))
            }
        }
        return rows
    }

    private func value(of aggregate: Aggregate, uniqueCount: Int) throws(MeterError) -> ExactDecimal? {
        try Self.value(of: aggregate, uniqueCount: uniqueCount, kind: kind, multiplier: multiplier)
    }

    /// The value of a merged aggregate for a meter's aggregation (nil: AVG, MIN, MAX or LATEST of nothing).
    static func value(of aggregate: Aggregate, uniqueCount: Int, kind: AggregationKind, multiplier: ExactDecimal?) throws(MeterError) -> ExactDecimal? {
        switch kind {
        case .count:
            return ExactDecimal(aggregate.count)
        case .countUnique:
            return ExactDecimal(Int64(uniqueCount))
        case .sum:
            let sum = ExactDecimal(units: aggregate.value)
            guard let multiplier else { return sum }
            do {
                return try sum.multiplied(by: multiplier)
            } catch {
                throw MeterError(.valueOverflow, "the sum times the multiplier exceeds the supported range")
            }
        case .average:
            guard aggregate.count > 0 else { return nil }
            return ExactDecimal(units: aggregate.value).divided(by: aggregate.count)
        case .minimum, .maximum, .latest:
            guard aggregate.count > 0 else { return nil }
            return ExactDecimal(units: aggregate.value)
        }
    }
}
