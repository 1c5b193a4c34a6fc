/// Publishing what `EntitlementCheckView` needs, on the writer: a customer's entry after a check
/// answered on the writer, their usage after each applied group, and a clear after a change of
/// definitions. The view's usage is the running-total slot's (`RunningTotals`), so the view
/// answers a check exactly when `periodUsage` would answer it from the slot.
extension MeterStateMachine {
    /// Adds to the view what it needs to answer this check itself from now on, when the
    /// customer has a running-total slot on the meter (a check through `checkEntitlement` made
    /// one unless the instant was in an earlier period). Call on the writer, after the check.
    public func publishCheck(into view: EntitlementCheckView, tenantId: String, meter reference: MeterReference, customerId: String) {
        guard usesRunningTotals, let state = try? resolve(tenantId: tenantId, reference),
              let entitlement = entitlementState.entitlement(tenantId: tenantId, meterId: state.meter.id, customerId: customerId),
              let customer = tenants[tenantId]?.customerIndex.value(for: customerId),
              let totals = state.runningTotals, let slot = totals.slots[customer] else { return }
        totals.watched = true
        checkViewMeters[state.meter.id] = state
        let entry = EntitlementCheckView.Entry(
            entitlement: entitlement.definition,
            grants: grantDefinitions(tenantId: tenantId, meterId: state.meter.id, customerId: customerId),
            usage: checkViewUsage(slot, of: state))
        view.store(tenantId: tenantId, reference: reference,
                   meter: .init(meterId: state.meter.id, reset: state.meter.definition.reset),
                   customerId: customerId, entry: entry, rolledBeforeMinute: rolledBeforeMinute)
    }

    /// Copies into the view the usage of every customer of a watched meter with events since
    /// the last call: replaces it for customers held, and adds customers not held yet that have
    /// an entitlement (making their running-total slot first, the one fold `periodUsage` would
    /// do on their first check), so that their first check is answered by the view too. Call on
    /// the writer after applying a group and before answering it.
    public func publishCheckViewChanges(into view: EntitlementCheckView) {
        guard !checkViewMeters.isEmpty else { return }
        var changes: [(key: EntitlementCheckView.CustomerKey, usage: EntitlementCheckView.Usage)] = []
        for (meterId, state) in checkViewMeters {
            guard let totals = state.runningTotals, !totals.changed.isEmpty else { continue }
            let tenantId = state.meter.definition.tenantId
            let customers = tenants[tenantId]?.customers ?? []
            for customer in totals.changed where Int(customer) < customers.count {
                let slot: RunningTotal
                if let existing = totals.slots[customer] {
                    slot = existing
                } else {
                    slot = initialSlot(state, totals: totals, customer: customer)
                    totals.slots[customer] = slot
                }
                changes.append((EntitlementCheckView.CustomerKey(tenantId: tenantId, meterId: meterId, customerId: customers[Int(customer)]),
                                checkViewUsage(slot, of: state)))
            }
            totals.changed.removeAll(keepingCapacity: true)
        }
        let missing = view.update(changes, rolledBeforeMinute: rolledBeforeMinute)
        guard !missing.isEmpty else { return }
        var entries: [(key: EntitlementCheckView.CustomerKey, entry: EntitlementCheckView.Entry)] = []
        for (key, usage) in missing {
            guard let entitlement = entitlementState.entitlement(tenantId: key.tenantId, meterId: key.meterId, customerId: key.customerId) else { continue }
            entries.append((key, EntitlementCheckView.Entry(
                entitlement: entitlement.definition,
                grants: grantDefinitions(tenantId: key.tenantId, meterId: key.meterId, customerId: key.customerId), usage: usage)))
        }
        view.insert(entries)
    }

    /// Empties the view and stops tracking changes for it (after a change of meters,
    /// entitlements, grants or rules: checks repopulate it through the writer).
    public func resetCheckView(_ view: EntitlementCheckView) {
        view.clear()
        for state in checkViewMeters.values {
            state.runningTotals?.watched = false
            state.runningTotals?.changed.removeAll()
        }
        checkViewMeters.removeAll()
    }

    /// The slot's value and a later period's, as `periodUsage` computes them (errors included).
    private func checkViewUsage(_ slot: RunningTotal, of state: MeterState) -> EntitlementCheckView.Usage {
        let multiplier = state.meter.definition.aggregation.multiplier
        let kind = state.kind
        let value = Result { () throws(MeterError) -> ExactDecimal in
            if slot.overflowed { throw UsageQueryPlan.aggregateOverflow }
            return try UsageQueryPlan.value(of: slot.aggregate, uniqueCount: slot.uniques.count, kind: kind, multiplier: multiplier) ?? .zero
        }
        let later = Result { () throws(MeterError) -> ExactDecimal in
            try UsageQueryPlan.value(of: Aggregate.empty, uniqueCount: 0, kind: kind, multiplier: multiplier) ?? .zero
        }
        return EntitlementCheckView.Usage(start: slot.start, end: slot.end, value: value, later: later)
    }
}
