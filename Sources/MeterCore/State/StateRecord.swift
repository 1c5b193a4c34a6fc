/// One entry of the log, as the state machine applies it. Records are the only way state
/// changes, and they are applied in log order, so the same records always give the same state.
///
/// The engine validates a command against the current state before it writes the record, so a
/// record normally applies cleanly. If one does not (say a meter name was taken in between),
/// applying it changes nothing and reports why, the same way on every replay.
public enum StateRecord: Hashable, Sendable {
    /// A meter was created. Its id is assigned when the record is applied, in log order.
    case meterCreated(MeterDefinition, atMilliseconds: Int64)
    /// A meter's display name changed (the only field that may change).
    case meterDisplayNameChanged(tenantId: String, meterId: String, displayName: String, atMilliseconds: Int64)
    /// A meter was archived: it stops counting, stays queryable and frees its event name.
    case meterArchived(tenantId: String, meterId: String, atMilliseconds: Int64)
    /// Events accepted at `acceptedAtMilliseconds` for `tenantId`, already screened.
    case eventsAccepted(tenantId: String, acceptedAtMilliseconds: Int64, events: [UsageEvent])
    /// Backfill of a meter has covered the log positions below `completedThroughSequence`.
    case backfillProgress(meterId: String, completedThroughSequence: UInt64)
    /// An API key was created by `createdBy`. Its id is assigned when the record is applied.
    case apiKeyCreated(ApiKeyDefinition, createdBy: AuditActor, atMilliseconds: Int64)
    /// An API key was revoked by `revokedBy`: refused from the next request on.
    case apiKeyRevoked(tenantId: String, keyId: String, revokedBy: AuditActor, atMilliseconds: Int64)
    /// A meter change (created, renamed, archived) made by `actor`: applied as the inner record,
    /// and recorded in the audit trail when it applied. Only meter records are wrapped.
    indirect case audited(AuditActor, StateRecord)
    /// An entitlement was set (created or replaced) by `actor`.
    case entitlementSet(EntitlementDefinition, actor: AuditActor, atMilliseconds: Int64)
    /// The entitlement of a meter and customer (nil: the tenant-wide default) was removed.
    case entitlementRemoved(tenantId: String, meterId: String, customerId: String?, actor: AuditActor, atMilliseconds: Int64)
    /// A grant was added. Its id is assigned when the record is applied.
    case grantAdded(GrantDefinition, actor: AuditActor, atMilliseconds: Int64)
    case grantRemoved(tenantId: String, grantId: String, actor: AuditActor, atMilliseconds: Int64)
    /// A threshold rule was added. Its id is assigned when the record is applied.
    case thresholdRuleAdded(ThresholdRuleDefinition, actor: AuditActor, atMilliseconds: Int64)
    case thresholdRuleRemoved(tenantId: String, ruleId: String, actor: AuditActor, atMilliseconds: Int64)
}

/// What an entitlement, grant or threshold-rule record changed.
public enum EntitlementChange: Hashable, Sendable {
    case entitlementSet(Entitlement)
    case entitlementRemoved(Entitlement)
    case grantAdded(Grant)
    case grantRemoved(Grant)
    case thresholdRuleAdded(ThresholdRule)
    case thresholdRuleRemoved(ThresholdRule)
}

/// What applying a record did.
public enum ApplyOutcome: Hashable, Sendable {
    case meterCreated(Meter)
    case meterUpdated(Meter)
    case events([EventOutcome])
    case backfillProgress
    /// An API key was created or revoked.
    case apiKeyChanged(ApiKey)
    /// An entitlement, grant or threshold rule was set, added or removed.
    case entitlementChanged(EntitlementChange)
    /// The record did not apply; state is unchanged.
    case refused(MeterError)
}

/// What became of one accepted event. Every accepted event is kept in the log either way.
public enum EventOutcome: UInt8, Hashable, Sendable {
    /// Aggregated into the active meter with its event name.
    case counted = 0
    /// No active meter has this event name (yet): kept for a future meter's backfill.
    case noActiveMeter = 1
    /// The meter's filters did not match.
    case filteredOut = 2
    /// The meter aggregates a numeric field the event does not carry as a number.
    case missingValue = 3
    /// Counting it would take a sum beyond the supported range.
    case overflow = 4
    /// Its id was already accepted inside the dedup window; nothing changed.
    case duplicate = 5
}

/// How the engine should answer for one event of an ingest request, before writing.
public enum EventScreening: Hashable, Sendable {
    case accept
    case duplicate
    case rejected(MeterError)
}

extension EntitlementChange {
    /// The entitlement set or removed, if this change was one.
    public var entitlement: Entitlement? {
        switch self {
        case .entitlementSet(let entitlement), .entitlementRemoved(let entitlement): return entitlement
        default: return nil
        }
    }

    /// The grant added or removed, if this change was one.
    public var grant: Grant? {
        switch self {
        case .grantAdded(let grant), .grantRemoved(let grant): return grant
        default: return nil
        }
    }

    /// The threshold rule added or removed, if this change was one.
    public var thresholdRule: ThresholdRule? {
        switch self {
        case .thresholdRuleAdded(let rule), .thresholdRuleRemoved(let rule): return rule
        default: return nil
        }
    }
}
