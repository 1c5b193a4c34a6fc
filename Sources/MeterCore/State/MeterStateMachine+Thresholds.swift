/// Applying entitlement, grant and threshold-rule records, and deciding threshold crossings.
///
/// A crossing is decided once per applied `eventsAccepted` record (or backfilled record), after
/// all its events are counted: for each customer and period the record touched, every rule of
/// the meter whose level the customer's usage has reached raises a notification unless that
/// (rule, customer, period) was raised before. The decision reads only state built from earlier
/// records and the record's own accept time, so replay raises exactly the same notifications;
/// a late event falls in its own (older) period, and a new period has nothing raised yet (a
/// period reset re-arms every rule).
extension MeterStateMachine {
    func applyEntitlementRecord(_ record: StateRecord, sequence: UInt64) -> ApplyOutcome {
        do throws(MeterError) {
            switch record {
            case .entitlementSet(let definition, let actor, let at):
                try validateEntitlement(definition)
                let entitlement = Entitlement(definition: definition, updatedAtMilliseconds: at, sequence: sequence)
                entitlementState.entitlements[EntitlementKey(tenantId: definition.tenantId, meterId: definition.meterId, customerId: definition.customerId)] = entitlement
                audit(.entitlementSet, definition.tenantId, actor, at, sequence, target: definition.meterId,
                      detail: "\(definition.customerId.map { "customer \($0)" } ?? "default"): \(definition.limit) \(definition.enforcement.name)")
                return .entitlementChanged(.entitlementSet(entitlement))
            case .entitlementRemoved(let tenantId, let meterId, let customerId, let actor, let at):
                try validateEntitlementRemoval(tenantId: tenantId, meterId: meterId, customerId: customerId)
                let removed = entitlementState.entitlements.removeValue(forKey: EntitlementKey(tenantId: tenantId, meterId: meterId, customerId: customerId))!
                releaseRunningTotalsIfUnused(meterId: meterId)
                audit(.entitlementRemoved, tenantId, actor, at, sequence, target: meterId, detail: customerId.map { "customer \($0)" } ?? "default")
                return .entitlementChanged(.entitlementRemoved(removed))
            case .grantAdded(let definition, let actor, let at):
                try validateGrant(definition)
                let grant = Grant(id: "grt_\(entitlementState.nextGrantNumber)", definition: definition, createdAtMilliseconds: at)
                entitlementState.nextGrantNumber += 1
                entitlementState.addGrant(grant)
                audit(.grantAdded, definition.tenantId, actor, at, sequence, target: grant.id,
                      detail: "\(definition.meterId) customer \(definition.customerId): \(definition.amount)")
                return .entitlementChanged(.grantAdded(grant))
            case .grantRemoved(let tenantId, let grantId, let actor, let at):
                try validateGrantRemoval(tenantId: tenantId, grantId: grantId)
                let grant = entitlementState.removeGrant(id: grantId)
                audit(.grantRemoved, tenantId, actor, at, sequence, target: grantId, detail: "\(grant.definition.meterId) customer \(grant.definition.customerId)")
                return .entitlementChanged(.grantRemoved(grant))
            case .thresholdRuleAdded(let definition, let actor, let at):
                try validateThresholdRule(definition)
                let rule = ThresholdRule(id: "thr_\(entitlementState.nextRuleNumber)", definition: definition, createdAtMilliseconds: at)
                entitlementState.nextRuleNumber += 1
                entitlementState.rulesById[rule.id] = rule
                entitlementState.ruleOrder.append(rule.id)
                entitlementState.rulesByMeter[definition.meterId, default: []].append(rule.id)
                audit(.thresholdRuleAdded, definition.tenantId, actor, at, sequence, target: rule.id, detail: "\(definition.meterId)")
                return .entitlementChanged(.thresholdRuleAdded(rule))
            case .thresholdRuleRemoved(let tenantId, let ruleId, let actor, let at):
                try validateThresholdRuleRemoval(tenantId: tenantId, ruleId: ruleId)
                let rule = entitlementState.rulesById.removeValue(forKey: ruleId)!
                entitlementState.ruleOrder.removeAll { $0 == ruleId }
                entitlementState.rebuildRuleIndex()
                releaseRunningTotalsIfUnused(meterId: rule.definition.meterId)
                audit(.thresholdRuleRemoved, tenantId, actor, at, sequence, target: ruleId, detail: rule.definition.meterId)
                return .entitlementChanged(.thresholdRuleRemoved(rule))
            default:
                preconditionFailure("not an entitlement record: \(record)")
            }
        } catch {
            return .refused(error)
        }
    }

    private func audit(_ action: AuditAction, _ tenantId: String, _ actor: AuditActor, _ at: Int64, _ sequence: UInt64, target: String, detail: String) {
        auditTrail.append(AuditEntry(sequence: sequence, atMilliseconds: at, tenantId: tenantId, actor: actor, action: action, targetId: target, detail: detail))
    }

    /// Raises the notifications the record at `sequence` (accepted at `atMilliseconds`) crossed.
    func evaluateThresholds(_ candidates: [ThresholdCandidate], sequence: UInt64, atMilliseconds: Int64) {
        // Each (meter, customer, period) once, in the order the record first touched it.
        var seen = Set<ThresholdScope>()
        // The last period computed: most events of a record fall in the same one (a calendar
        // computation per event otherwise).
        var lastPeriod: (meter: MeterState, start: Int64, end: Int64)?
        // Percentage levels by rule and limit: most customers share a limit (the default's).
        var levels: [PercentLevelKey: ExactDecimal] = [:]
        for candidate in candidates {
            let state = candidate.meter
            let period: (start: Int64, end: Int64)?
            if let last = lastPeriod, last.meter === state, candidate.timestampMilliseconds >= last.start, candidate.timestampMilliseconds < last.end {
                period = (last.start, last.end)
            } else {
                period = periodBounds(of: state, containing: candidate.timestampMilliseconds)
                if let period { lastPeriod = (state, period.start, period.end) }
            }
            let scope = ThresholdScope(meterId: state.meter.id, customerIndex: candidate.customerIndex, periodStart: period?.start ?? .min)
            guard seen.insert(scope).inserted, let ruleIds = entitlementState.rulesByMeter[state.meter.id] else { continue }
            let tenantId = state.meter.definition.tenantId
            let periodStart = period?.start ?? .min
            // The rules that may still fire for this customer and period; none left: no fold.
            let armed = ruleIds.filter { ruleId in
                if let only = entitlementState.rulesById[ruleId]!.definition.customerId, only != candidate.customerId { return false }
                return !entitlementState.fired.contains(FiredThreshold(ruleId: ruleId, customerId: candidate.customerId, periodStartMilliseconds: periodStart))
            }
            guard !armed.isEmpty else { continue }
            // Usage the hour roll-up can no longer split by this period's bounds cannot be
            // decided; it is skipped the same way on every replay.
            guard let usage = try? periodUsage(state, tenantId: tenantId, customerId: candidate.customerId, customerIndex: candidate.customerIndex, period: period) else { continue }
            for ruleId in armed {
                let rule = entitlementState.rulesById[ruleId]!
                guard let threshold = level(of: rule, customerId: candidate.customerId, atMilliseconds: atMilliseconds, cache: &levels),
                      usage >= threshold else { continue }
                let fired = FiredThreshold(ruleId: ruleId, customerId: candidate.customerId, periodStartMilliseconds: period?.start ?? .min)
                guard entitlementState.fired.insert(fired).inserted else { continue }
                entitlementState.notifications.append(ThresholdNotification(
                    number: UInt64(entitlementState.notifications.count + 1), tenantId: tenantId, ruleId: ruleId,
                    meterId: state.meter.id, customerId: candidate.customerId, threshold: threshold, usage: usage,
                    periodStartMilliseconds: period?.start, periodEndMilliseconds: period?.end,
                    sequence: sequence, atMilliseconds: atMilliseconds))
            }
        }
    }

    /// A rule's level in usage units: the absolute value, or the percentage of the customer's
    /// limit (entitlement plus grants effective at `atMilliseconds`); nil without an entitlement.
    private func level(of rule: ThresholdRule, customerId: String, atMilliseconds: Int64, cache: inout [PercentLevelKey: ExactDecimal]) -> ExactDecimal? {
        switch rule.definition.level {
        case .absolute(let value):
            return value
        case .percentOfEntitlement(let percent):
            let definition = rule.definition
            guard let entitlement = entitlementState.entitlement(tenantId: definition.tenantId, meterId: definition.meterId, customerId: customerId),
                  let granted = try? grantedAmount(tenantId: definition.tenantId, meterId: definition.meterId, customerId: customerId, atMilliseconds: atMilliseconds),
                  let limit = try? entitlement.definition.limit.adding(granted)
            else { return nil }
            let key = PercentLevelKey(ruleId: rule.id, limitUnits: limit.units)
            if let known = cache[key] { return known }
            guard let scaled = try? limit.multiplied(by: percent) else { return nil }
            let level = scaled.divided(by: 100)
            cache[key] = level
            return level
        }
    }
}

/// A counted event of a meter with threshold rules: which customer and when, to evaluate after
/// its record is applied.
struct ThresholdCandidate {
    let meter: MeterState
    let customerIndex: UInt32
    let customerId: String
    let timestampMilliseconds: Int64
}

private struct ThresholdScope: Hashable {
    var meterId: String
    var customerIndex: UInt32
    var periodStart: Int64
}

/// A percentage rule and the limit it applies to: the level is a function of both.
private struct PercentLevelKey: Hashable {
    var ruleId: String
    var limitUnits: Int128
}
