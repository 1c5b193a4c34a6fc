extension MeterStateMachine {
    /// The meters of a tenant in creation order, archived ones included when asked.
    public func meters(tenantId: String, includeArchived: Bool = true) -> [Meter] {
        meterOrder.compactMap { id in
            let meter = metersById[id]!.meter
            guard meter.definition.tenantId == tenantId, includeArchived || meter.status == .active else { return nil }
            return meter
        }
    }

    /// The meter `reference` names in `tenantId`.
    public func meter(tenantId: String, _ reference: MeterReference) throws(MeterError) -> Meter {
        try resolve(tenantId: tenantId, reference).meter
    }

    /// Accepted events of the tenant that matched no active meter.
    public func eventsWithoutMeter(tenantId: String) -> UInt64 {
        tenants[tenantId]?.eventsWithoutMeter ?? 0
    }

    func resolve(tenantId: String, _ reference: MeterReference) throws(MeterError) -> MeterState {
        switch reference {
        case .id(let id):
            return try meterState(tenantId: tenantId, id: id)
        case .eventName(let name):
            if let active = tenants[tenantId]?.activeMeterByEventName.value(for: name) { return active }
            for id in meterOrder.reversed() {
                let state = metersById[id]!
                if state.meter.definition.tenantId == tenantId, state.meter.definition.eventName == name { return state }
            }
            throw MeterError(.meterNotFound, "no meter with event name \(quoted(name))")
        }
    }

    /// Usage of a meter over a range, in windows, as described on `UsageQuery`.
    public func usage(_ query: UsageQuery) throws(MeterError) -> UsageResult {
        let state = try resolve(tenantId: query.tenantId, query.meter)
        let plan = try UsageQueryPlan(query: query, state: state, rolledBeforeMinute: rolledBeforeMinute)
        let customers = tenants[query.tenantId]?.customers ?? []
        var customerFilter: UInt32?
        if let customerId = query.customerId {
            guard let number = tenants[query.tenantId]?.customerIndex.value(for: customerId) else {
                return UsageResult(meter: state.meter, rows: try plan.rows(customers: customers))
            }
            customerFilter = number
        }
        // First count the output groups (no folding, no allocation per window), and refuse a
        // query whose answer would be too large before doing its work.
        var matching: [(series: Int, customer: UInt32, group: [String?])] = []
        var outputKeys = Set<UsageQueryPlan.OutputKey>()
        let store = state.store
        for series in 0..<store.count {
            let customer = store.customer(ofSeries: series)
            if let customerFilter, customer != customerFilter { continue }
            let group = state.groups[Int(store.group(ofSeries: series))]
            guard plan.passesGroupFilters(group) else { continue }
            matching.append((series, customer, group))
            outputKeys.insert(plan.outputKey(customer: customer, group: group))
        }
        try plan.checkRowCount(groupCount: outputKeys.count)
        var accumulator = plan
        for (series, customer, group) in matching {
            try accumulator.add(store, series: series, customer: customer, group: group)
        }
        return UsageResult(meter: state.meter, rows: try accumulator.rows(customers: customers))
    }

    /// Usage "now" for a customer (or all customers): for a PERIODIC meter, the usage inside
    /// the billing period containing `atMilliseconds`; for a CUMULATIVE meter, the running
    /// total up to the end of the minute containing `atMilliseconds`.
    public func currentUsage(
        tenantId: String, meter reference: MeterReference, customerId: String?, atMilliseconds: Int64
    ) throws(MeterError) -> UsageRow {
        let state = try resolve(tenantId: tenantId, reference)
        guard atMilliseconds >= UsageQuery.earliestMilliseconds, atMilliseconds < UsageQuery.latestMilliseconds - 400 * 86_400_000 else {
            throw MeterError(.invalidQuery, "the instant must lie between 1970 and 9998")
        }
        var query = UsageQuery(tenantId: tenantId, meter: .id(state.meter.id), fromMilliseconds: 0, toMilliseconds: 0, customerId: customerId)
        switch state.meter.definition.reset {
        case .periodic(let period, let anchor):
            let bounds = period.periodBounds(containing: atMilliseconds, anchorMilliseconds: anchor)
            query.fromMilliseconds = bounds.startMilliseconds
            query.toMilliseconds = bounds.endMilliseconds
        case .cumulative:
            let minute = atMilliseconds.flooredDivision(by: 60_000) * 60_000
            query.fromMilliseconds = minute
            query.toMilliseconds = minute + 60_000
        }
        let rows = try usage(query).rows
        precondition(rows.count == 1, "an ungrouped single-window query has exactly one row")
        return rows[0]
    }
}
