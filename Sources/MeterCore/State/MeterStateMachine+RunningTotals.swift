/// Reading a customer's usage of one period through the running totals (see `RunningTotals`):
/// the same answer as `customerUsage` (the fold of the period's buckets), errors included, in
/// constant time for the customer's newest period and any later one.
extension MeterStateMachine {
    /// One customer's usage in `period` (nil: the lifetime of a CUMULATIVE meter). Creates the
    /// meter's running totals and the customer's slot on first use (one fold); a period before
    /// the slot's (a late event, a check of the past) is folded as before.
    /// `customerIndex`: the customer's number in the tenant when the caller has it (saves a lookup).
    func periodUsage(_ state: MeterState, tenantId: String, customerId: String, customerIndex: UInt32? = nil,
                     period: (start: Int64, end: Int64)?) throws(MeterError) -> ExactDecimal {
        guard usesRunningTotals else { return try customerUsage(state, tenantId: tenantId, customerId: customerId, period: period) }
        guard let customer = customerIndex ?? tenants[tenantId]?.customerIndex.value(for: customerId) else { return .zero }
        // The checks the fold's query plan makes, in its order, so the errors are the same.
        let from = period?.start ?? UsageQuery.earliestMilliseconds
        let to = period?.end ?? UsageQuery.latestMilliseconds
        try UsageQueryPlan.checkRange(from: from, to: to)
        try UsageQueryPlan.checkResolution([from, to], rolledBeforeMinute: rolledBeforeMinute)
        let totals = runningTotals(of: state)
        let slot: RunningTotal
        if let existing = totals.slots[customer] {
            slot = existing
        } else {
            slot = initialSlot(state, totals: totals, customer: customer)
            totals.slots[customer] = slot
        }
        let total: RunningTotal
        if let period, period.start != slot.start {
            // A later period than the slot's holds nothing; an earlier one is folded.
            guard period.start >= slot.end else {
                return try customerUsage(state, tenantId: tenantId, customerId: customerId, period: period)
            }
            total = RunningTotal(start: period.start, end: period.end)
        } else {
            total = slot
        }
        if total.overflowed { throw UsageQueryPlan.aggregateOverflow }
        return try UsageQueryPlan.value(of: total.aggregate, uniqueCount: total.uniques.count, kind: state.kind,
                                        multiplier: state.meter.definition.aggregation.multiplier) ?? .zero
    }

    /// The meter's running totals, created empty on first use.
    func runningTotals(of state: MeterState) -> RunningTotals {
        if let existing = state.runningTotals { return existing }
        let created = RunningTotals(kind: state.kind, reset: state.meter.definition.reset)
        state.runningTotals = created
        return created
    }

    /// Drops the running totals of a meter left without entitlements and threshold rules.
    func releaseRunningTotalsIfUnused(meterId: String) {
        guard let state = metersById[meterId], state.runningTotals != nil,
              entitlementState.rulesByMeter[meterId] == nil,
              !entitlementState.entitlements.keys.contains(where: { $0.meterId == meterId })
        else { return }
        state.runningTotals = nil
    }

    /// The one-time fold that starts a customer's slot: their newest period with usage (the
    /// lifetime for CUMULATIVE meters), or `nothingYet` when a periodic meter has none of theirs.
    func initialSlot(_ state: MeterState, totals: RunningTotals, customer: UInt32) -> RunningTotal {
        let store = state.store
        var customerSeries: [Int] = []
        for group in 0..<state.groups.count {
            if let series = store.series(customer: customer, group: UInt32(group)) { customerSeries.append(series) }
        }
        var bounds: (start: Int64, end: Int64)
        if case .cumulative = state.meter.definition.reset {
            bounds = totals.bounds(containing: 0)
        } else {
            var newest: Int64?
            for series in customerSeries {
                let minutes = store.run(series, .minutes), hours = store.run(series, .hours)
                if !minutes.isEmpty { newest = Swift.max(newest ?? .min, store.pool.key(minutes, minutes.count - 1) &* 60_000) }
                if !hours.isEmpty { newest = Swift.max(newest ?? .min, store.pool.key(hours, hours.count - 1) &* 3_600_000) }
            }
            guard let newest else { return .nothingYet }
            bounds = totals.bounds(containing: newest)
        }
        var slot = RunningTotal(start: bounds.start, end: bounds.end)
        for series in customerSeries {
            fold(store.run(series, .minutes), of: store.pool, bucketMilliseconds: 60_000, into: &slot, kind: state.kind)
            fold(store.run(series, .hours), of: store.pool, bucketMilliseconds: 3_600_000, into: &slot, kind: state.kind)
        }
        return slot
    }

    private func fold(_ buckets: PoolRun, of pool: BucketPool, bucketMilliseconds: Int64,
                      into slot: inout RunningTotal, kind: AggregationKind) {
        var position = slot.start == .min ? 0 : pool.lowerBound(buckets, slot.start.flooredDivision(by: bucketMilliseconds))
        while position < buckets.count {
            let index = Int(buckets.start) + position
            let start = pool.buckets[index].key &* bucketMilliseconds
            if start >= slot.end { break }
            if start >= slot.start {
                slot.merge(pool.aggregate(at: index), kind: kind)
                if kind == .countUnique { pool.forEachUnique(at: index) { slot.uniques.insert($0) } }
            }
            position += 1
        }
    }
}
