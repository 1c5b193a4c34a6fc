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

    /// The writer loop: take everything queued, commit it as one group, do periodic work.
    private func runWriter() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping && !hasBackgroundWork() && !snapshotFinished {
                if let deadline = nextDeadline() {
                    if !condition.wait(until: deadline) { break }
                } else {
                    condition.wait()
                }
            }
            let commands = queue
            queue.removeAll(keepingCapacity: true)
            queuedEvents = 0
            snapshotFinished = false
            let stop = stopping && commands.isEmpty
            condition.unlock()

            if !commands.isEmpty { commit(commands) }
            if stop { break }
            maintenance()
            publishStatus()
        }
        finishShutdown()
    }

    /// Screens every command against the state, appends all resulting records with one write,
    /// syncs according to the durability mode, applies them in order and replies.
    func commit(_ commands: [Command]) {
        let now = Swift.max(options.clock(), lastAcceptedAtMilliseconds)
        lastAcceptedAtMilliseconds = now
        var records: [StateRecord] = []
        var logRecords: [LogRecord] = []
        var finishers: [Command.Finisher] = []
        var reads: [(MeterStateMachine) -> Void] = []
        var pendingIds: [String: PendingEventIds] = [:]
        // Sized for the group's events up front (capped; it still grows past that if needed).
        let pendingCapacity = Swift.min(commands.reduce(0) { $0 + $1.eventCount }, 1 << 16)

        for command in commands {
            if case .read(let body) = command {
                reads.append(body)
                continue
            }
            if let failure {
                command.fail(.unavailable("the log failed and refuses writes until restart: \(failure)"))
                continue
            }
            switch command {
            case .ingest(let tenantId, let events, let encoded, let reply):
                guard let finisher = screenIngest(tenantId: tenantId, events: events, encoded: encoded, now: now, reply: reply,
                                                  records: &records, logRecords: &logRecords, pendingIds: &pendingIds[tenantId, default: PendingEventIds(minimumCapacity: pendingCapacity)]) else { continue }
                finishers.append(finisher)
            case .createMeter(let definition, let reply):
                do throws(MeterError) {
                    try machine.validateCreate(definition)
                } catch {
                    reply(.failure(.rejected(error)))
                    continue
                }
                finishers.append(Self.meterFinisher(recordIndex: records.count, reply: reply))
                records.append(.meterCreated(definition, atMilliseconds: now))
                logRecords.append(Self.logRecord(records[records.count - 1]))
            case .updateDisplayName(let tenantId, let reference, let displayName, let reply):
                do throws(MeterError) {
                    let meter = try machine.meter(tenantId: tenantId, reference)
                    try machine.validateDisplayNameChange(tenantId: tenantId, meterId: meter.id, displayName: displayName)
                    finishers.append(Self.meterFinisher(recordIndex: records.count, reply: reply))
                    records.append(.meterDisplayNameChanged(tenantId: tenantId, meterId: meter.id, displayName: displayName, atMilliseconds: now))
                    logRecords.append(Self.logRecord(records[records.count - 1]))
                } catch {
                    reply(.failure(.rejected(error)))
                }
            case .archiveMeter(let tenantId, let reference, let reply):
                do throws(MeterError) {
                    let meter = try machine.meter(tenantId: tenantId, reference)
                    try machine.validateArchive(tenantId: tenantId, meterId: meter.id)
                    finishers.append(Self.meterFinisher(recordIndex: records.count, reply: reply))
                    records.append(.meterArchived(tenantId: tenantId, meterId: meter.id, atMilliseconds: now))
                    logRecords.append(Self.logRecord(records[records.count - 1]))
                } catch {
                    reply(.failure(.rejected(error)))
                }
            case .read:
                break
            }
        }

        let outcome = append(records, logRecords: logRecords)
        for finisher in finishers { finisher(outcome) }
        for read in reads { read(machine) }
    }

    /// Screens one ingest request; returns how to answer it once the group is durable.
    private func screenIngest(
        tenantId: String, events: [UsageEvent], encoded: EncodedEvents, now: Int64,
        reply: @escaping (Result<[EventResult], EngineError>) -> Void,
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
        let screening = machine.screen(events, tenantId: tenantId, nowMilliseconds: now, pendingEventIds: &pendingIds)
        var accepted: [UsageEvent] = []
        var positions: [Int] = []
        accepted.reserveCapacity(events.count)
        positions.reserveCapacity(events.count)
        for (position, screened) in screening.enumerated() where screened == .accept {
            accepted.append(events[position])
            positions.append(position)
        }
        let recordIndex: Int? = accepted.isEmpty ? nil : records.count
        if !accepted.isEmpty {
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
                for screened in screening {
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
                reply(.success(results))
            }
        }
    }

    private static func meterFinisher(recordIndex: Int, reply: @escaping (Result<Meter, EngineError>) -> Void) -> Command.Finisher {
        { result in
            switch result {
            case .failure(let error):
                reply(.failure(error))
            case .success(let outcomes):
                switch outcomes[recordIndex] {
                case .meterCreated(let meter), .meterUpdated(let meter):
                    reply(.success(meter))
                case .refused(let error):
                    reply(.failure(.rejected(error)))
                case .events, .backfillProgress:
                    reply(.failure(.unavailable("internal error: unexpected outcome for a meter record")))
                }
            }
        }
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
            publishStatus()
            return .failure(.unavailable("the log failed and refuses writes until restart: \(message)"))
        }
        afterSync?()
        var outcomes: [ApplyOutcome] = []
        outcomes.reserveCapacity(records.count)
        for (offset, record) in records.enumerated() {
            outcomes.append(machine.apply(record, sequence: range.lowerBound + UInt64(offset)))
        }
        replica.enqueue(.apply(records, firstSequence: range.lowerBound))
        recordsSinceSnapshot += UInt64(records.count)
        for logRecord in logRecords { logBytesSinceSnapshot += logRecord.payload.count }
        publishStatus()
        return .success(outcomes)
    }

    private func syncAfterAppend() throws {
        switch options.durability {
        case .fsync:
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
