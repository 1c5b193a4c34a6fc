/// Per-event entitlement effects (see `EntitlementEffect`): computed while an `eventsAccepted`
/// record is applied, only when the caller asks, from the running totals (constant time per
/// event). Reading only: the state after the apply is the same whether effects are collected.
extension MeterStateMachine {
    /// Applies one record like `apply(_:sequence:)` and, for an `eventsAccepted` record, sets
    /// `effects` to one entry per event of the record, in order: the entitlement effect of an
    /// event that a meter with an entitlement for its customer took (counted or not), else nil.
    /// Any other record leaves `effects` empty.
    @discardableResult
    public func apply(_ record: StateRecord, sequence: UInt64, entitlementEffects effects: inout [EntitlementEffect?]) -> ApplyOutcome {
        collectedEffects = []
        defer {
            effects = collectedEffects ?? []
            collectedEffects = nil
        }
        return apply(record, sequence: sequence)
    }

    /// The entitlement that applies to an event of `meter` by `customerId`, and its usage before
    /// the event; nil when the customer has no entitlement there (or its usage cannot be read).
    func effectBaseline(_ meter: MeterState, tenantId: String, customerId: String, atMilliseconds: Int64) -> EffectBaseline? {
        guard let entitlement = entitlementState.entitlement(tenantId: tenantId, meterId: meter.meter.id, customerId: customerId) else { return nil }
        let period = periodBounds(of: meter, containing: atMilliseconds)
        guard let usage = try? periodUsage(meter, tenantId: tenantId, customerId: customerId, period: period),
              let granted = try? grantedAmount(tenantId: tenantId, meterId: meter.meter.id, customerId: customerId, atMilliseconds: atMilliseconds),
              let limit = try? entitlement.definition.limit.adding(granted)
        else { return nil }
        return EffectBaseline(meter: meter, period: period, usageBefore: usage, limit: limit, enforcement: entitlement.definition.enforcement)
    }

    /// The effect once the event was applied (its usage read again).
    func effect(after baseline: EffectBaseline, tenantId: String, customerId: String) -> EntitlementEffect? {
        guard let usage = try? periodUsage(baseline.meter, tenantId: tenantId, customerId: customerId, period: baseline.period),
              let balance = try? baseline.limit.subtracting(usage)
        else { return nil }
        return EntitlementEffect(
            hasAccess: baseline.enforcement == .soft || balance.units > 0, usage: usage, limit: baseline.limit,
            remaining: balance.isNegative ? .zero : balance,
            crossed: baseline.usageBefore < baseline.limit && usage >= baseline.limit)
    }
}

/// An event's entitlement before it is counted: where to read its usage again, and the limit.
struct EffectBaseline {
    let meter: MeterState
    let period: (start: Int64, end: Int64)?
    let usageBefore: ExactDecimal
    let limit: ExactDecimal
    let enforcement: EntitlementEnforcement
}
