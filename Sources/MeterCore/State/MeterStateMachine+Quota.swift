extension MeterStateMachine {
    /// `screen(_:tenantId:nowMilliseconds:pendingEventIds:)`, and then, for each event it would
    /// accept, the tenant's cardinality quota (`configuration.quotas`): an event that would add
    /// a customer or a series beyond its meter's quota is rejected alone, with
    /// `QUOTA_CUSTOMERS_PER_METER` or `QUOTA_SERIES_PER_METER`, and its id is not taken, so it
    /// can be sent again once the quota is raised. Counts the meter's series and customers, plus
    /// those `ledger` holds (accepted but not applied yet); adds what it accepts to `ledger`.
    /// Changes no state. Events of existing series always pass.
    public func screen<Pending: EventIdSet & EventIdRemoving>(
        _ events: [UsageEvent], tenantId: String, nowMilliseconds: Int64, pendingEventIds: inout Pending, ledger: inout SeriesLedger
    ) -> [EventScreening] {
        var results = screen(events, tenantId: tenantId, nowMilliseconds: nowMilliseconds, pendingEventIds: &pendingEventIds)
        let quota = configuration.quotas.quota(for: tenantId)
        guard !quota.isUnlimited, let tenant = tenants[tenantId] else { return results }
        // A later copy of a refused event in the same batch was screened a duplicate of it:
        // it is refused the same way (nothing with that id was accepted).
        var refused: [String: MeterError] = [:]
        for (position, screened) in results.enumerated() {
            let eventId = events[position].eventId
            switch screened {
            case .accept:
                if let refusal = quotaRefusal(events[position], tenant: tenant, quota: quota, ledger: &ledger) {
                    pendingEventIds.forget(eventId)
                    refused[eventId] = refusal
                    results[position] = .rejected(refusal)
                }
            case .duplicate:
                if let refusal = refused[eventId] { results[position] = .rejected(refusal) }
            case .rejected:
                break
            }
        }
        return results
    }

    /// Why counting `event` would take its meter over `quota`; nil (and the new series noted in
    /// `ledger`) when it may be counted.
    private func quotaRefusal(_ event: UsageEvent, tenant: TenantState, quota: CardinalityQuota, ledger: inout SeriesLedger) -> MeterError? {
        guard let meter = tenant.activeMeterByEventName.value(for: event.eventName),
              case .measured = meter.measure(event) else { return nil }
        let group = meter.groupValues(for: event)
        let customerNumber = tenant.customerIndex.value(for: event.customerId)
        if let customerNumber, let groupNumber = meter.groupIndex[group],
           meter.store.series(customer: customerNumber, group: groupNumber) != nil {
            return nil
        }
        let meterId = meter.meter.id
        let identity = SeriesLedger.SeriesIdentity(customerId: event.customerId, group: group)
        if ledger.contains(series: identity, meterId: meterId) { return nil }
        let pending = ledger.counts(meterId: meterId)
        let knownCustomer = customerNumber.map { meter.store.hasCustomer($0) } == true
            || ledger.contains(customerId: event.customerId, meterId: meterId)
        let described = "meter \(meterId) (event name \(quoted(meter.meter.definition.eventName))) of tenant \(tenant.id)"
        if !knownCustomer, quota.customersPerMeter > 0, meter.store.customerCount + pending.customers >= quota.customersPerMeter {
            return MeterError(.quotaCustomersPerMeter, "\(described) is at its quota of \(quota.customersPerMeter) distinct customers "
                + "(--quota-customers-per-meter): events of new customers are refused, known customers still count")
        }
        if quota.seriesPerMeter > 0, meter.store.count + pending.series >= quota.seriesPerMeter {
            return MeterError(.quotaSeriesPerMeter, "\(described) is at its quota of \(quota.seriesPerMeter) series "
                + "(--quota-series-per-meter, one per customer and group-by values): events of new series are refused, existing series still count")
        }
        ledger.add(series: identity, newCustomer: !knownCustomer, meterId: meterId)
        return nil
    }
}
