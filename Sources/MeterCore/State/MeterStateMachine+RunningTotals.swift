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
        var customerSeries: [Series] = []
        for group in 0..<state.groups.count {
            if let series = state.series[UInt64(customer) << 32 | UInt64(group)] { customerSeries.append(series) }
        }
        var bounds: (start: Int64, end: Int64)
        if case .cumulative = state.meter.definition.reset {
            bounds = totals.bounds(containing: 0)
        } else {
            var newest: Int64?
            for series in customerSeries {
                if let minute = series.minutes.keys.last { newest = Swift.max(newest ?? .min, minute &* 60_000) }
                if let hour = series.hours.keys.last { newest = Swift.max(newest ?? .min, hour &* 3_600_000) }
            }
            guard let newest else { return .nothingYet }
            bounds = totals.bounds(containing: newest)
        }
        var slot = RunningTotal(start: bounds.start, end: bounds.end)
        for series in customerSeries {
            fold(series.minutes, uniques: series.uniqueMinutes, bucketMilliseconds: 60_000, into: &slot, kind: state.kind)
            fold(series.hours, uniques: series.uniqueHours, bucketMilliseconds: 3_600_000, into: &slot, kind: state.kind)
        }
        return slot
    }

    private func fold(_ buckets: BucketList, uniques: [Int64: Set<String>], bucketMilliseconds: Int64,
                      into slot: inout RunningTotal, kind: AggregationKind) {
        var position = slot.start == .min ? 0 : buckets.lowerBound(slot.start.flooredDivision(by: bucketMilliseconds))
        while position < buckets.count {
            let bucket = buckets.keys[position]
            let start = bucket &* bucketMilliseconds
            if start >= slot.end { break }
            if start >= slot.start {
                slot.merge(buckets.aggregates[position], uniques: kind == .countUnique ? uniques[bucket] : nil, kind: kind)
            }
            position += 1
        }
    }
}
