import Foundation
import MeterCore
import MeterLog

extension MeterEngine {
    func startWriter() {
        let thread = Thread { [self] in runWriter() }
        thread.name = "meterd-writer"
        thread.stackSize = 8 << 20
        writer = thread
        thread.start()
    }

    /// The writer loop, pipelined in `fsync` mode: while group N is being fdatasynced on the
    /// sync thread, the writer takes and screens group N+1 (against the state plus N's accepted
    /// ids, which are not applied yet). When N is durable, the writer appends N+1 and starts its
    /// sync, and only then applies N and replies, so applying and replying also overlap a sync.
    /// Order of apply and replies, exactly-once, and "no reply before durable" are as in a plain
    /// loop: groups are applied in log order and only after their sync.
    ///
    /// The writer never touches the log while a sync runs (the sync thread owns it then), so
    /// maintenance (backfill reads, retention) waits for a moment with no sync in flight. A
    /// group that changes meters is never screened against or behind an unapplied group.
    private func runWriter() {
        var written: ScreenedGroup?
        while true {
            condition.lock()
            while queue.isEmpty && !stopping && !snapshotFinished && !(written != nil && syncer.isFinishedWhileLocked)
                    && !(written == nil && hasBackgroundWork()) {
                if written == nil, let deadline = nextDeadline() {
                    if !condition.wait(until: deadline) { break }
                } else {
                    condition.wait()
                }
            }
            let commands = queue
            queue.removeAll(keepingCapacity: true)
            queuedEvents = 0
            let collect = snapshotFinished
            snapshotFinished = false
            let stop = stopping && commands.isEmpty
            condition.unlock()

            // Drain the pipeline when what comes next must see the in-flight group applied:
            // meter changes, maintenance (it uses the log, which the sync thread holds), or stop.
            if let group = written,
               stop || group.changesMeters || commands.contains(where: \.changesMeters) || maintenanceDue(snapshotFinished: collect) {
                finish(group, synced: syncer.wait())
                written = nil
                maintenance()
                publishStatus()
            }
            if !commands.isEmpty {
                var next = screen(commands, after: written)
                if let group = written {
                    // Group N is durable (or failed): append N+1 and start its sync, then apply
                    // and answer N while N+1 syncs.
                    let synced = syncer.wait()
                    if next.hasRecords {
                        switch synced {
                        case .success: next = write(next)
                        case .failure: next.failure = .unavailable("the log failed and refuses writes until restart")
                        }
                    }
                    finish(group, synced: synced)
                    written = nil
                } else if next.hasRecords {
                    next = write(next, syncInlineWhenIdle: true)
                }
                if next.isWaitingForSync {
                    written = next
                } else {
                    finish(next, synced: .success(()))
                }
            } else if let group = written {
                // Woken by the end of its sync with nothing new to overlap it with.
                finish(group, synced: syncer.wait())
                written = nil
            }
            if stop && written == nil { break }
            // Between groups (nothing being synced): interval syncs, snapshots, backfill.
            if written == nil {
                maintenance()
                publishStatus()
            }
        }
        finishShutdown()
    }

    /// Screens every command against the state (and the ids `previous` accepted but has not
    /// applied yet) and encodes the records of the group. Changes no state.
    private func screen(_ commands: [Command], after previous: ScreenedGroup?) -> ScreenedGroup {
        let now = Swift.max(options.clock(), lastAcceptedAtMilliseconds)
        lastAcceptedAtMilliseconds = now
        var group = ScreenedGroup()
        // Ids accepted by the group still being synced count as pending for this one.
        // (Looked up through each tenant's new set, never copied into it: see PendingEventIds.)
        let previousIds = previous?.pendingIds ?? [:]
        var pendingIds: [String: PendingEventIds] = [:]
        // Sized for the group's events up front (capped; it still grows past that if needed).
        let pendingCapacity = Swift.min(commands.reduce(0) { $0 + $1.eventCount }, 1 << 16)
        // New ids the exactly-once index may still take: its room now, less what the unapplied
        // group before this one accepted. Each request's accepted events are taken from it.
        var dedupRoom = machine.dedupIndexRoom(nowMilliseconds: now) - (previous?.eventCount ?? 0)
        // Series the group being synced let in count against the cardinality quotas too.
        var ledger = previous?.seriesLedger.next() ?? SeriesLedger()

        // Reads of the applied state first: they need nothing screened here.
        for command in commands {
            if case .readApplied(let body) = command { body(machine) }
        }
        for command in commands {
            if case .read(let body) = command {
                group.reads.append(body)
                continue
            }
            if case .readApplied = command { continue }
            if let failure {
                command.fail(.unavailable("the log failed and refuses writes until restart: \(failure)"))
                continue
            }
            switch command {
            case .ingest(let tenantId, let events, let encoded, let effects, let reply):
                guard let finisher = screenIngest(tenantId: tenantId, events: events, encoded: encoded, effects: effects, now: now, reply: reply,
                                                  effectRequests: &group.effectRequests,
                                                  dedupRoom: &dedupRoom, ledger: &ledger, records: &group.records, logRecords: &group.logRecords, pendingIds: &pendingIds[tenantId, default: PendingEventIds(minimumCapacity: pendingCapacity, after: previousIds[tenantId])]) else { continue }
                group.finishers.append(finisher)
            case .createMeter(let definition, let actor, let reply):
                do throws(MeterError) {
                    try machine.validateCreate(definition)
                } catch {
                    reply(.failure(.rejected(error)))
                    continue
                }
                group.finishers.append(Self.meterFinisher(recordIndex: group.records.count, reply: reply))
                group.append(Self.attributed(.meterCreated(definition, atMilliseconds: now), to: actor))
            case .updateDisplayName(let tenantId, let reference, let displayName, let actor, let reply):
                do throws(MeterError) {
                    let meter = try machine.meter(tenantId: tenantId, reference)
                    try machine.validateDisplayNameChange(tenantId: tenantId, meterId: meter.id, displayName: displayName)
                    group.finishers.append(Self.meterFinisher(recordIndex: group.records.count, reply: reply))
                    group.append(Self.attributed(.meterDisplayNameChanged(tenantId: tenantId, meterId: meter.id, displayName: displayName, atMilliseconds: now), to: actor))
                } catch {
                    reply(.failure(.rejected(error)))
                }
            case .archiveMeter(let tenantId, let reference, let actor, let reply):
                do throws(MeterError) {
                    let meter = try machine.meter(tenantId: tenantId, reference)
                    try machine.validateArchive(tenantId: tenantId, meterId: meter.id)
                    group.finishers.append(Self.meterFinisher(recordIndex: group.records.count, reply: reply))
                    group.append(Self.attributed(.meterArchived(tenantId: tenantId, meterId: meter.id, atMilliseconds: now), to: actor))
                } catch {
                    reply(.failure(.rejected(error)))
                }
            case .createApiKey(let definition, let actor, let reply):
                do throws(MeterError) {
                    try machine.validateKeyCreate(definition)
                    group.finishers.append(Self.keyFinisher(recordIndex: group.records.count, reply: reply))
                    group.append(.apiKeyCreated(definition, createdBy: actor, atMilliseconds: now))
                } catch {
                    reply(.failure(.rejected(error)))
                }
            case .revokeApiKey(let tenantId, let keyId, let actor, let reply):
                do throws(MeterError) {
                    try machine.validateKeyRevoke(tenantId: tenantId, keyId: keyId)
                    group.finishers.append(Self.keyFinisher(recordIndex: group.records.count, reply: reply))
                    group.append(.apiKeyRevoked(tenantId: tenantId, keyId: keyId, revokedBy: actor, atMilliseconds: now))
                } catch {
                    reply(.failure(.rejected(error)))
                }
            case .changeEntitlements(let make, let reply):
                let record: StateRecord
                do {
                    record = try make(machine, now)
                } catch let error as MeterError {
                    reply(.failure(.rejected(error)))
                    continue
                } catch {
                    reply(.failure(.unavailable("internal error: \(error)")))
                    continue
                }
                group.finishers.append(Self.entitlementFinisher(recordIndex: group.records.count, reply: reply))
                group.append(record)
            case .read, .readApplied:
                break
            }
            if command.changesMeters { group.changesMeters = true }
        }
        group.pendingIds = pendingIds
        group.seriesLedger = ledger
        return group
    }

    /// Appends the group's records with one write and, in `fsync` mode, starts their sync on
    /// the sync thread (`isWaitingForSync`); in the other modes syncs per the mode's rule now.
    ///
    /// `syncInlineWhenIdle`: when no group is in flight and nothing is queued, there is nothing
    /// to overlap the sync with, so the writer runs it itself: that saves the two thread
    /// hand-offs (writer to sync thread and back) from the latency of every lone request. A
    /// command that arrives meanwhile waits for this sync, as it would wait for group N's.
    private func write(_ group: ScreenedGroup, syncInlineWhenIdle: Bool = false) -> ScreenedGroup {
        var group = group
        do {
            group.range = try log.append(group.logRecords)
            groupCommits += 1
            groupCommitEvents += UInt64(group.eventCount)
            if options.durability == .fsync, syncInlineWhenIdle, queueIsEmpty() {
                try syncAfterAppend()
            } else if options.durability == .fsync {
                syncer.start()
                group.isWaitingForSync = true
            } else {
                try syncAfterAppend()
            }
        } catch {
            group.failure = failLog(error)
        }
        return group
    }

    private func queueIsEmpty() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return queue.isEmpty
    }

    /// Turns the engine failed after a log write or sync error; returns the error to answer with.
    private func failLog(_ error: any Error) -> EngineError {
        let message = "\(error)"
        failure = message
        options.onEvent?(.failed(message: message))
        publishStatus()
        return .unavailable("the log failed and refuses writes until restart: \(message)")
    }

    /// Applies a written (and, in `fsync` mode, synced) group in log order and answers it; on
    /// failure answers every request of the group with the error and applies nothing.
    private func finish(_ group: ScreenedGroup, synced: Result<Void, any Error>) {
        var failed = group.failure
        if failed == nil, group.isWaitingForSync {
            switch synced {
            case .success:
                syncs += 1
                lastSyncMilliseconds = options.clock()
            case .failure(let error):
                failed = failLog(error)
            }
        }
        if let failed {
            for finisher in group.finishers { finisher(.failure(failed)) }
        } else {
            var outcomes: [ApplyOutcome] = []
            if let range = group.range {
                outcomes = applyWritten(group.records, logRecords: group.logRecords, firstSequence: range.lowerBound, effectRequests: group.effectRequests)
            }
            for finisher in group.finishers { finisher(.success(outcomes)) }
        }
        for read in group.reads { read(machine) }
    }

    /// Screens one ingest request; returns how to answer it once the group is durable.
    private func screenIngest(
        tenantId: String, events: [UsageEvent], encoded: EncodedEvents, effects: EntitlementEffects?, now: Int64,
        reply: @escaping (Result<[EventResult], EngineError>) -> Void, effectRequests: inout [Int: EntitlementEffects],
        dedupRoom: inout Int, ledger: inout SeriesLedger,
        records: inout [StateRecord], logRecords: inout [LogRecord], pendingIds: inout PendingEventIds
    ) -> Command.Finisher? {
        guard NameRules.isValidEventName(tenantId) else {
            reply(.failure(.rejected(MeterError(.invalidTenant, "tenant id is invalid"))))
            return nil
        }
        guard events.count <= options.core.limits.batchMaximumEvents else {
            reply(.failure(.rejected(MeterError(.batchTooLarge, "a batch holds at most \(options.core.limits.batchMaximumEvents) events, got \(events.count)"))))
            return nil
        }
        let ledgerBefore = ledger
        let screening = machine.screen(events, tenantId: tenantId, nowMilliseconds: now, pendingEventIds: &pendingIds, ledger: &ledger)
        var accepted: [UsageEvent] = []
        var positions: [Int] = []
        accepted.reserveCapacity(events.count)
        positions.reserveCapacity(events.count)
        for (position, screened) in screening.enumerated() where screened == .accept {
            accepted.append(events[position])
            positions.append(position)
        }
        // The exactly-once index is full: refuse the whole request before anything is written
        // (retryable; its ids leave the group's pending set). A request of duplicates only
        // still gets its answers.
        if !accepted.isEmpty && accepted.count > dedupRoom {
            for event in accepted { pendingIds.remove(event.eventId) }
            ledger = ledgerBefore
            reply(.failure(.resourceExhausted(dedupFullMessage(now: now))))
            return nil
        }
        dedupRoom -= accepted.count
        let recordIndex: Int? = accepted.isEmpty ? nil : records.count
        if !accepted.isEmpty {
            if let effects { effectRequests[records.count] = effects }
            records.append(.eventsAccepted(tenantId: tenantId, acceptedAtMilliseconds: now, events: accepted))
            let payload = RecordCodec.eventsAcceptedPayload(
                tenantId: tenantId, acceptedAtMilliseconds: now, encoded: encoded,
                positions: positions.count == events.count ? nil : positions)
            logRecords.append(LogRecord(type: RecordCodec.eventsAcceptedType, payload: payload))
        }
        // Every reply waits for the group: a duplicate of an id accepted earlier in the same
        // group is only true once that earlier copy is durable.
        return { result in
            switch result {
            case .failure(let error):
                reply(.failure(error))
            case .success(let outcomes):
                var eventOutcomes: [EventOutcome] = []
                if let recordIndex, case .events(let applied) = outcomes[recordIndex] { eventOutcomes = applied }
                var next = 0
                var results: [EventResult] = []
                results.reserveCapacity(screening.count)
                // The record's effects (one per accepted event) in request order.
                let recordEffects = effects?.effects ?? []
                var requestEffects: [EntitlementEffect?] = []
                if effects != nil { requestEffects.reserveCapacity(screening.count) }
                for screened in screening {
                    if effects != nil {
                        requestEffects.append(screened == .accept && next < recordEffects.count ? recordEffects[next] : nil)
                    }
                    switch screened {
                    case .accept:
                        let applied = next < eventOutcomes.count ? eventOutcomes[next] : .noActiveMeter
                        next += 1
                        results.append(applied == .duplicate ? .duplicate : .accepted(applied))
                    case .duplicate:
                        results.append(.duplicate)
                    case .rejected(let error):
                        results.append(.rejected(error))
                    }
                }
                effects?.effects = requestEffects
                reply(.success(results))
            }
        }
    }

    private func dedupFullMessage(now: Int64) -> String {
        let fill = machine.dedupIndexFill
        let windowSeconds = options.core.dedupWindowMilliseconds / 1000
        return "the exactly-once index is full (\(fill.entries) of at most \(fill.maximumEntries) event ids remembered, "
            + "--dedup-max-ids): new events are refused until remembered ids pass the dedup window of \(windowSeconds) s "
            + "and expire; nothing of this request was written, retry it later"
    }

    private static func meterFinisher(recordIndex: Int, reply: @escaping (Result<Meter, EngineError>) -> Void) -> Command.Finisher {
        finisher(recordIndex: recordIndex, kind: "meter", reply: reply) { outcome in
            switch outcome {
            case .meterCreated(let meter), .meterUpdated(let meter): return meter
            default: return nil
            }
        }
    }

    private static func keyFinisher(recordIndex: Int, reply: @escaping (Result<ApiKey, EngineError>) -> Void) -> Command.Finisher {
        finisher(recordIndex: recordIndex, kind: "key", reply: reply) { outcome in
            if case .apiKeyChanged(let key) = outcome { return key }
            return nil
        }
    }

    /// Answers a one-record command with what `value` takes from its record's outcome: a refused
    /// record is a rejection, any other outcome than the expected kind an internal error.
    private static func finisher<Value>(recordIndex: Int, kind: String, reply: @escaping (Result<Value, EngineError>) -> Void,
                                        value: @escaping (ApplyOutcome) -> Value?) -> Command.Finisher {
        { result in
            switch result {
            case .failure(let error):
                reply(.failure(error))
            case .success(let outcomes):
                let outcome = outcomes[recordIndex]
                if let found = value(outcome) {
                    reply(.success(found))
                } else if case .refused(let error) = outcome {
                    reply(.failure(.rejected(error)))
                } else {
                    reply(.failure(.unavailable("internal error: unexpected outcome for a \(kind) record")))
                }
            }
        }
    }

    private static func entitlementFinisher(recordIndex: Int, reply: @escaping (Result<EntitlementChange, EngineError>) -> Void) -> Command.Finisher {
        { result in
            switch result {
            case .failure(let error):
                reply(.failure(error))
            case .success(let outcomes):
                switch outcomes[recordIndex] {
                case .entitlementChanged(let change):
                    reply(.success(change))
                case .refused(let error):
                    reply(.failure(.rejected(error)))
                case .meterCreated, .meterUpdated, .events, .backfillProgress, .apiKeyChanged:
                    reply(.failure(.unavailable("internal error: unexpected outcome for an entitlement record")))
                }
            }
        }
    }

    /// `record`, wrapped in an `audited` record when an actor made it.
    static func attributed(_ record: StateRecord, to actor: AuditActor?) -> StateRecord {
        guard let actor else { return record }
        return .audited(actor, record)
    }

    static func logRecord(_ record: StateRecord) -> LogRecord {
        let encoded = RecordCodec.encode(record)
        return LogRecord(type: encoded.type, payload: encoded.payload)
    }

    /// Appends, syncs (per durability mode) and applies `records`. On a write or sync failure
    /// the engine turns failed: nothing of the group is applied or acknowledged. `logRecords`,
    /// when given, are the records already encoded (one per record, in order).
    func append(_ records: [StateRecord], logRecords: [LogRecord]? = nil, afterSync: (() -> Void)? = nil) -> Result<[ApplyOutcome], EngineError> {
        guard !records.isEmpty else { return .success([]) }
        let logRecords = logRecords ?? records.map(Self.logRecord)
        precondition(logRecords.count == records.count, "one encoded log record per record")
        let range: ClosedRange<UInt64>
        do {
            range = try log.append(logRecords)
            groupCommits += 1
            try syncAfterAppend()
        } catch {
            let message = "\(error)"
            failure = message
            options.onEvent?(.failed(message: message))
            publishStatus()
            return .failure(.unavailable("the log failed and refuses writes until restart: \(message)"))
        }
        afterSync?()
        return .success(applyWritten(records, logRecords: logRecords, firstSequence: range.lowerBound))
    }

    /// Applies records the log holds (durably, per the mode) at their positions, hands them to
    /// the snapshot replica and publishes the new status. Before any reply of their group.
    private func applyWritten(_ records: [StateRecord], logRecords: [LogRecord], firstSequence: UInt64,
                              effectRequests: [Int: EntitlementEffects] = [:]) -> [ApplyOutcome] {
        options.beforeApply?()
        var outcomes: [ApplyOutcome] = []
        outcomes.reserveCapacity(records.count)
        for (offset, record) in records.enumerated() {
            if let effects = effectRequests[offset] {
                outcomes.append(machine.apply(record, sequence: firstSequence + UInt64(offset), entitlementEffects: &effects.effects))
            } else {
                outcomes.append(machine.apply(record, sequence: firstSequence + UInt64(offset)))
            }
        }
        // The checks' view sees the group before anyone is answered: a change of definitions
        // (meters, entitlements, grants, rules, backfill) empties it, usage is copied over.
        if outcomes.contains(where: { if case .events = $0 { false } else { true } }) {
            machine.resetCheckView(checkView)
        } else {
            machine.publishCheckViewChanges(into: checkView)
        }
        replica.enqueue(.apply(records, firstSequence: firstSequence))
        recordsSinceSnapshot += UInt64(records.count)
        for logRecord in logRecords { logBytesSinceSnapshot += logRecord.payload.count }
        // Asked for here, before the group's replies, so a caller that got its reply sees the
        // snapshot it caused in `status()`. (Only in the non-pipelined modes does asking touch
        // the log, to sync it first.)
        if failure == nil, snapshotDue(now: options.clock()) { requestSnapshot() }
        publishStatus()
        return outcomes
    }

    private func syncAfterAppend() throws {
        switch options.durability {
        case .fsync:
            options.beforeLogSync?()
            try log.sync()
            syncs += 1
            lastSyncMilliseconds = options.clock()
        case .interval(let milliseconds):
            let now = options.clock()
            if now - lastSyncMilliseconds >= Int64(milliseconds) {
                try log.sync()
                syncs += 1
                lastSyncMilliseconds = now
                unsyncedRecords = false
            } else {
                unsyncedRecords = true
            }
        case .none:
            break
        }
    }

    /// When the writer must wake up with nothing queued: the next interval fsync or snapshot.
    func nextDeadline() -> Date? {
        var deadlines: [Int64] = []
        if unsyncedRecords, case .interval(let milliseconds) = options.durability {
            deadlines.append(lastSyncMilliseconds + Int64(milliseconds))
        }
        if recordsSinceSnapshot > 0 {
            deadlines.append(lastSnapshotMilliseconds + options.snapshotEverySeconds * 1000)
        }
        guard let earliest = deadlines.min() else { return nil }
        // Clamped: a far deadline (snapshots effectively off) must not overflow the timed wait.
        let delay = Double(Swift.min(Swift.max(0, earliest &- options.clock()), 3_600_000)) / 1000
        return Date(timeIntervalSinceNow: delay)
    }
}
