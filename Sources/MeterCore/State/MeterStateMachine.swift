/// The deterministic heart of meterd: meters, accepted events and their aggregates.
///
/// State changes only through `apply(_:sequence:)`, one log record at a time, in log order.
/// Nothing here reads a clock, touches a file or takes a lock: times and log positions are
/// arguments, so replaying the same records always rebuilds the same state (compare
/// `snapshot()` bytes to check). One writer owns an instance; it is not thread-safe.
///
/// The engine drives it as validate -> screen -> append -> fsync -> apply:
/// `validateCreate`, `validateDisplayNameChange`, `validateArchive` and `screen` check a
/// command against the current state without changing it, and `apply` commits the record.
public final class MeterStateMachine {
    public let configuration: MeterCoreConfiguration
    var tenants: [String: TenantState] = [:]
    var metersById: [String: MeterState] = [:]
    /// Meter ids in creation order, for listing and snapshots.
    var meterOrder: [String] = []
    var nextMeterNumber: UInt64 = 1
    /// Newest accept time applied; drives id expiry and minute roll-up.
    public internal(set) var highWaterMilliseconds: Int64 = .min
    /// Minute buckets before this minute have been rolled into hours.
    var rolledBeforeMinute: Int64 = .min
    /// Log position of the last record applied.
    public internal(set) var lastAppliedSequence: UInt64 = 0
    /// Fingerprints of the event ids accepted in the dedup window, for exactly-once counting.
    @exclusivity(unchecked) var eventIds = EventIdIndex()
    let fingerprinter: EventFingerprinter
    /// API keys by id, and their ids in creation order (MeterStateMachine+Access).
    var apiKeysById: [String: ApiKey] = [:]
    var apiKeyOrder: [String] = []
    var nextApiKeyNumber: UInt64 = 1
    /// Every admin action applied, in log order.
    var auditTrail: [AuditEntry] = []
    /// Entitlements, grants, threshold rules and notifications (MeterStateMachine+Entitlements).
    var entitlementState = EntitlementState()
    /// False: usage for thresholds and checks is folded from the buckets every time, as before
    /// running totals existed (tests and `meter-bench thresholds` compare both ways; see
    /// `RunningTotals`). Answers are the same either way; only their cost differs.
    public var usesRunningTotals = true
    /// Meters (by id) with customers held by the engine's `EntitlementCheckView`
    /// (MeterStateMachine+CheckView). Derived, never in snapshots.
    var checkViewMeters: [String: MeterState] = [:]
    /// Non-nil while `apply(_:sequence:entitlementEffects:)` collects per-event effects.
    var collectedEffects: [EntitlementEffect?]?
    /// Where the events of the record `apply(logRecordType:payload:sequence:)` is applying sit
    /// in its bytes; reused from record to record (MeterStateMachine+EncodedRecords).
    @exclusivity(unchecked) var encodedBatch = EncodedEventBatch()

    /// Creates an empty state machine. Precondition: `configuration.problems` is empty.
    public init(configuration: MeterCoreConfiguration = MeterCoreConfiguration()) {
        precondition(configuration.problems.isEmpty, "invalid configuration: \(configuration.problems)")
        self.configuration = configuration
        fingerprinter = EventFingerprinter(key: configuration.dedupKey, bits: configuration.dedupFingerprintBits)
    }

    /// How full the exactly-once index is: entries kept, bytes held, and the configured cap.
    public var dedupIndexFill: DedupIndexFill {
        DedupIndexFill(entries: eventIds.count, bytes: eventIds.byteCount, maximumEntries: configuration.limits.dedupMaximumIds)
    }

    /// How many new event ids may still be accepted at `nowMilliseconds` before the index
    /// reaches `limits.dedupMaximumIds` (ids older than the dedup window no longer count).
    /// The engine refuses new events beyond it at screening time; `apply` itself never refuses.
    public func dedupIndexRoom(nowMilliseconds: Int64) -> Int {
        let firstLive = eventIds.firstPosition(acceptedAtOrAfter: nowMilliseconds &- configuration.dedupWindowMilliseconds)
        return configuration.limits.dedupMaximumIds - (eventIds.tailPosition - firstLive)
    }

    // MARK: Validation without side effects

    /// Checks that `definition` can be created now: valid, and its event name is free.
    public func validateCreate(_ definition: MeterDefinition) throws(MeterError) {
        try MeterValidation.validate(definition)
        if tenants[definition.tenantId]?.activeMeterByEventName.contains(definition.eventName) == true {
            throw MeterError(.meterAlreadyExists, "an active meter already uses event name \(quoted(definition.eventName)); archive it first to replace it")
        }
    }

    /// Checks a display-name change of the meter with `meterId` in `tenantId`.
    public func validateDisplayNameChange(tenantId: String, meterId: String, displayName: String) throws(MeterError) {
        _ = try meterState(tenantId: tenantId, id: meterId)
        try MeterValidation.validateDisplayName(displayName)
    }

    /// Checks that the meter exists in the tenant and is not archived already.
    public func validateArchive(tenantId: String, meterId: String) throws(MeterError) {
        let state = try meterState(tenantId: tenantId, id: meterId)
        guard state.meter.status == .active else {
            throw MeterError(.meterArchived, "meter \(meterId) is already archived")
        }
    }

    /// Decides, for each event of an ingest request, whether it will be accepted, is a
    /// duplicate, or is rejected. `pendingEventIds` holds the tenant's ids accepted by earlier
    /// requests of the same group commit that are not applied yet; accepted ids are added to it,
    /// so a second copy in the same batch or group is a duplicate. Changes no state.
    public func screen<Pending: EventIdSet>(
        _ events: [UsageEvent], tenantId: String, nowMilliseconds: Int64, pendingEventIds: inout Pending
    ) -> [EventScreening] {
        let firstLive = eventIds.firstPosition(acceptedAtOrAfter: nowMilliseconds &- configuration.dedupWindowMilliseconds)
        let tenantPrefix = fingerprinter.prefix(tenantId: tenantId)
        var results: [EventScreening] = []
        results.reserveCapacity(events.count)
        for event in events {
            do throws(MeterError) {
                try EventValidation.validate(event, nowMilliseconds: nowMilliseconds, configuration: configuration)
            } catch {
                results.append(.rejected(error))
                continue
            }
            let fingerprint = fingerprinter.fingerprint(prefix: tenantPrefix, eventId: event.eventId)
            if eventIds.contains(fingerprint, since: firstLive) || !pendingEventIds.insertIfAbsent(event.eventId) {
                results.append(.duplicate)
            } else {
                results.append(.accept)
            }
        }
        return results
    }

    // MARK: Applying records

    /// Applies one log record at log position `sequence`. Deterministic: the outcome and the new
    /// state depend only on the state before and the arguments.
    @discardableResult
    public func apply(_ record: StateRecord, sequence: UInt64) -> ApplyOutcome {
        precondition(sequence > lastAppliedSequence, "records must be applied in log order")
        lastAppliedSequence = sequence
        return applyRecord(record, sequence: sequence)
    }

    private func applyRecord(_ record: StateRecord, sequence: UInt64) -> ApplyOutcome {
        switch record {
        case .meterCreated(let definition, let at):
            return applyCreate(definition, atMilliseconds: at, sequence: sequence)
        case .meterDisplayNameChanged(let tenantId, let meterId, let displayName, _):
            do throws(MeterError) {
                try validateDisplayNameChange(tenantId: tenantId, meterId: meterId, displayName: displayName)
            } catch {
                return .refused(error)
            }
            let state = metersById[meterId]!
            state.meter.definition.displayName = displayName
            return .meterUpdated(state.meter)
        case .meterArchived(let tenantId, let meterId, let at):
            do throws(MeterError) {
                try validateArchive(tenantId: tenantId, meterId: meterId)
            } catch {
                return .refused(error)
            }
            let state = metersById[meterId]!
            state.meter.status = .archived
            state.meter.archivedAtMilliseconds = at
            tenants[tenantId]?.activeMeterByEventName.remove(state.meter.definition.eventName)
            return .meterUpdated(state.meter)
        case .eventsAccepted(let tenantId, let acceptedAt, let events):
            return .events(applyEvents(events, tenantId: tenantId, acceptedAtMilliseconds: acceptedAt, sequence: sequence))
        case .backfillProgress(let meterId, let completedThrough):
            guard let state = metersById[meterId] else {
                return .refused(MeterError(.meterNotFound, "no meter with id \(meterId)"))
            }
            state.meter.backfill.completedThroughSequence = Swift.max(state.meter.backfill.completedThroughSequence, completedThrough)
            return .backfillProgress
        case .apiKeyCreated(let definition, let actor, let at):
            return applyKeyCreated(definition, createdBy: actor, atMilliseconds: at, sequence: sequence)
        case .apiKeyRevoked(let tenantId, let keyId, let actor, let at):
            return applyKeyRevoked(tenantId: tenantId, keyId: keyId, revokedBy: actor, atMilliseconds: at, sequence: sequence)
        case .entitlementSet, .entitlementRemoved, .grantAdded, .grantRemoved, .thresholdRuleAdded, .thresholdRuleRemoved:
            return applyEntitlementRecord(record, sequence: sequence)
        case .audited(let actor, let inner):
            let outcome = applyRecord(inner, sequence: sequence)
            recordAudit(of: inner, outcome: outcome, actor: actor, sequence: sequence)
            return outcome
        }
    }

    private func applyCreate(_ definition: MeterDefinition, atMilliseconds: Int64, sequence: UInt64) -> ApplyOutcome {
        do throws(MeterError) {
            try validateCreate(definition)
        } catch {
            return .refused(error)
        }
        let meter = Meter(
            id: "mtr_\(nextMeterNumber)",
            definition: definition,
            status: .active,
            createdAtMilliseconds: atMilliseconds,
            archivedAtMilliseconds: nil,
            createdSequence: sequence,
            counters: MeterCounters(),
            // Before any event was ever accepted there is nothing to backfill: complete at once.
            backfill: BackfillStatus(
                targetSequence: sequence, completedThroughSequence: highWaterMilliseconds == .min ? sequence : 0, eventsCounted: 0)
        )
        nextMeterNumber += 1
        let state = MeterState(meter: meter)
        metersById[meter.id] = state
        meterOrder.append(meter.id)
        tenant(definition.tenantId).activeMeterByEventName.set(state, for: definition.eventName)
        return .meterCreated(meter)
    }

    private func applyEvents(
        _ events: [UsageEvent], tenantId: String, acceptedAtMilliseconds: Int64, sequence: UInt64
    ) -> [EventOutcome] {
        advanceTime(to: acceptedAtMilliseconds)
        // Ids are remembered at a time that never goes backwards, so they expire in FIFO order.
        let effectiveTime = Swift.max(acceptedAtMilliseconds, highWaterMilliseconds)
        let tenant = tenant(tenantId)
        let firstLive = eventIds.firstPosition(acceptedAtOrAfter: acceptedAtMilliseconds &- configuration.dedupWindowMilliseconds)
        let tenantPrefix = fingerprinter.prefix(tenantId: tenantId)
        var outcomes: [EventOutcome] = []
        outcomes.reserveCapacity(events.count)
        var touched: [ThresholdCandidate] = []
        let watchesThresholds = !entitlementState.rulesByMeter.isEmpty
        let collectsEffects = collectedEffects != nil
        var index: UInt32 = 0
        for event in events {
            defer { index &+= 1 }
            let fingerprint = fingerprinter.fingerprint(prefix: tenantPrefix, eventId: event.eventId)
            guard eventIds.insert(fingerprint, acceptedAtMilliseconds: effectiveTime, firstLivePosition: firstLive) else {
                outcomes.append(.duplicate)
                if collectsEffects { collectedEffects!.append(nil) }
                continue
            }
            guard let meter = tenant.activeMeterByEventName.value(for: event.eventName) else {
                tenant.eventsWithoutMeter += 1
                outcomes.append(.noActiveMeter)
                if collectsEffects { collectedEffects!.append(nil) }
                continue
            }
            let baseline = collectsEffects
                ? effectBaseline(meter, tenantId: tenantId, customerId: event.customerId, atMilliseconds: acceptedAtMilliseconds) : nil
            let customer = tenant.customerNumber(for: event.customerId)
            let outcome = meter.count(
                event, customerIndex: customer, sequence: sequence, index: index, rolledBeforeMinute: rolledBeforeMinute)
            outcomes.append(outcome)
            if collectsEffects {
                collectedEffects!.append(baseline.flatMap { effect(after: $0, tenantId: tenantId, customerId: event.customerId) })
            }
            if watchesThresholds, outcome == .counted, entitlementState.rulesByMeter[meter.meter.id] != nil {
                touched.append(ThresholdCandidate(meter: meter, customerIndex: customer, customerId: event.customerId,
                                                  timestampMilliseconds: event.timestampMilliseconds))
            }
        }
        if !touched.isEmpty {
            evaluateThresholds(touched, sequence: sequence, atMilliseconds: acceptedAtMilliseconds)
        }
        return outcomes
    }

    /// Aggregates into meter `meterId` the events of an `eventsAccepted` record that was in
    /// the log at position `sequence` before the meter was created (backfill). Events of other
    /// tenants or event names, and records at or after the meter's creation, are skipped, so
    /// the caller can hand over every record of a log range. Returns how many were counted.
    /// The caller (the engine) applies each range once, in log order, and logs its progress
    /// with a `backfillProgress` record so replay repeats exactly the same calls.
    @discardableResult
    public func applyBackfill(meterId: String, record: StateRecord, sequence: UInt64) -> Int {
        guard case .eventsAccepted(let tenantId, _, let events) = record,
              let state = metersById[meterId],
              state.meter.definition.tenantId == tenantId,
              sequence < state.meter.backfill.targetSequence,
              let tenant = tenants[tenantId]
        else { return 0 }
        var counted = 0
        var touched: [ThresholdCandidate] = []
        let watchesThresholds = entitlementState.rulesByMeter[meterId] != nil
        for (index, event) in events.enumerated() where event.eventName == state.meter.definition.eventName {
            let customer = tenant.customerNumber(for: event.customerId)
            let outcome = state.count(
                event, customerIndex: customer, sequence: sequence, index: UInt32(truncatingIfNeeded: index),
                rolledBeforeMinute: rolledBeforeMinute)
            if outcome == .counted {
                counted += 1
                if watchesThresholds {
                    touched.append(ThresholdCandidate(meter: state, customerIndex: customer, customerId: event.customerId,
                                                      timestampMilliseconds: event.timestampMilliseconds))
                }
            }
        }
        state.meter.backfill.eventsCounted += UInt64(counted)
        // A backfilled record's crossings are raised as of the record's own accept time, so a
        // replay that repeats the same backfill calls raises the same notifications.
        if !touched.isEmpty, case .eventsAccepted(_, let acceptedAt, _) = record {
            evaluateThresholds(touched, sequence: sequence, atMilliseconds: acceptedAt)
        }
        return counted
    }

    /// Meters whose backfill has not covered every log position before their creation, with
    /// the position to continue from, in creation order.
    public var pendingBackfills: [(meterId: String, fromSequence: UInt64, targetSequence: UInt64)] {
        meterOrder.compactMap { id in
            let backfill = metersById[id]!.meter.backfill
            return backfill.isComplete ? nil : (id, backfill.completedThroughSequence, backfill.targetSequence)
        }
    }

    /// Moves the clock of the state machine forward: expires old event ids and rolls minute
    /// buckets that left the minute retention into hours.
    func advanceTime(to acceptedAtMilliseconds: Int64) {
        guard acceptedAtMilliseconds > highWaterMilliseconds else { return }
        highWaterMilliseconds = acceptedAtMilliseconds
        let oldestKept = acceptedAtMilliseconds &- configuration.dedupWindowMilliseconds
        eventIds.expire(acceptedBefore: oldestKept)
        // Roll up whole hours only, so every hour bucket covers a full hour of minutes.
        let cutoffMinute = (acceptedAtMilliseconds &- configuration.minuteRetentionMilliseconds)
            .flooredDivision(by: 3_600_000) * 60
        if cutoffMinute > rolledBeforeMinute {
            rolledBeforeMinute = cutoffMinute
            for id in meterOrder {
                metersById[id]!.rollUp(beforeMinute: cutoffMinute)
            }
        }
    }

    func tenant(_ id: String) -> TenantState {
        if let existing = tenants[id] { return existing }
        let created = TenantState(id: id)
        tenants[id] = created
        return created
    }

    func meterState(tenantId: String, id: String) throws(MeterError) -> MeterState {
        guard let state = metersById[id], state.meter.definition.tenantId == tenantId else {
            throw MeterError(.meterNotFound, "no meter with id \(quoted(id))")
        }
        return state
    }
}
