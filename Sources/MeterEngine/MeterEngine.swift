import Foundation
import MeterCore
import MeterLog

/// The single writer between the server and the state machine:
/// validate -> dedup -> append to the log -> fsync -> apply -> reply.
///
/// Requests from every connection go into one bounded queue. A dedicated writer thread takes
/// everything queued at once, screens it against the state machine, appends all resulting
/// records with one write and one fdatasync (group commit), applies them and replies. Reads
/// run on the same thread after the writes queued before them, so in `fsync` mode they never
/// observe state that is not durable. Nothing here runs on (or blocks) a NIO event loop.
///
/// Start with `open(options:)`, which recovers from the newest snapshot plus the log; stop
/// with `shutdown()`, which finishes queued work, fsyncs, writes a snapshot and closes.
public final class MeterEngine: @unchecked Sendable {
    public let options: EngineOptions
    /// What recovery found and did when the engine opened.
    public let recovery: EngineRecoveryReport

    // Guarded by `condition`.
    let condition = NSCondition()
    var queue: [Command] = []
    var queuedEvents = 0
    var stopping = false
    var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    var finished = false
    /// The writer's counters as of its last group commit, snapshot or failure: Health and
    /// ServerInfo read this under the lock and never wait in the writer's queue (a liveness
    /// probe must answer while a long snapshot or a big group is being written).
    var publishedStatus: EngineStatus

    // Owned by the writer thread after `open` returns.
    let machine: MeterStateMachine
    let log: SegmentedLog
    let snapshots: SnapshotStore
    var failure: String?
    var lastAcceptedAtMilliseconds: Int64 = .min
    var lastSyncMilliseconds: Int64 = 0
    var unsyncedRecords = false
    var recordsSinceSnapshot: UInt64 = 0
    /// Payload bytes appended to the log since the last snapshot, and that snapshot's size.
    var logBytesSinceSnapshot = 0
    var lastSnapshotBytes = 0
    var lastSnapshotMilliseconds: Int64
    var snapshotSequence: UInt64
    var writer: Thread?
    /// Writes the snapshots on its own thread from a replica of the state (see SnapshotReplica).
    let replica: SnapshotReplica
    /// A snapshot was asked of the replica and has not finished yet.
    var snapshotRequested = false
    /// Guarded by `condition`: the replica finished a snapshot the writer has not collected.
    var snapshotFinished = false
    var groupCommits: UInt64 = 0
    /// Events accepted in all group commits (for events per group commit).
    var groupCommitEvents: UInt64 = 0
    /// Runs fdatasync for the pipelined writer (fsync mode).
    var syncer: LogSyncer!
    var syncs: UInt64 = 0
    /// Wakes long polls for notifications (published with the status after each group).
    let notificationSignal = NotificationSignal()
    /// What CheckEntitlement reads without entering the writer's queue: published by the writer
    /// after each applied group, before its replies (see `EntitlementCheckView`).
    public let checkView = EntitlementCheckView()

    init(options: EngineOptions, machine: MeterStateMachine, log: SegmentedLog, snapshots: SnapshotStore,
         replica: SnapshotReplica, snapshotSequence: UInt64, recovery: EngineRecoveryReport) {
        self.options = options
        self.replica = replica
        self.machine = machine
        self.log = log
        self.snapshots = snapshots
        self.snapshotSequence = snapshotSequence
        self.recovery = recovery
        self.lastSnapshotMilliseconds = options.clock()
        self.lastAcceptedAtMilliseconds = machine.highWaterMilliseconds
        let log = log
        let beforeLogSync = options.beforeLogSync
        self.syncer = LogSyncer(engineCondition: condition) {
            beforeLogSync?()
            try log.sync()
        }
        self.publishedStatus = EngineStatus(durability: options.durability, lastAppliedSequence: machine.lastAppliedSequence,
                                            firstRetainedSequence: log.firstSequence, failure: nil, queuedEvents: 0,
                                            snapshotSequence: snapshotSequence, dedupIndex: machine.dedupIndexFill)
        notificationSignal.publish(machine.lastNotificationNumber)
    }

    // MARK: Submitting work

    /// Queues `command`, or fails it at once when the engine is stopping or the queue is full.
    func submit(_ command: Command) {
        condition.lock()
        if stopping {
            condition.unlock()
            command.fail(.unavailable("meterd is shutting down"))
            return
        }
        let events = command.eventCount
        if queue.count >= options.queueCapacityCommands || (events > 0 && queuedEvents + events > options.queueCapacityEvents) {
            condition.unlock()
            command.fail(.resourceExhausted("the ingest queue is full (\(options.queueCapacityEvents) events); retry with backoff"))
            return
        }
        queue.append(command)
        queuedEvents += events
        condition.signal()
        condition.unlock()
    }

    /// Ingests a batch; one result per event, in order. Throws only when nothing was accepted
    /// because the engine could not write (unavailable, queue full).
    public func ingest(tenantId: String = Tenant.defaultId, events: [UsageEvent]) async throws(EngineError) -> [EventResult] {
        // Encoded here, on the caller's thread: the single writer then only copies the bytes.
        if let replicated = options.replicatedLog {
            return try await replicate(replicated, .eventsAccepted(tenantId: tenantId, acceptedAtMilliseconds: EngineOptions.systemClock(), events: events)) {
                if case .events(let results) = $0 { results } else { nil }
            }
        }
        let encoded = EncodedEvents(events)
        return try await call { reply in .ingest(tenantId: tenantId, events: events, encoded: encoded, effects: nil, reply: reply) }
    }

    /// `ingest` for callers that are not in an async context (the server's event loop):
    /// `completion` runs on the writer thread once the group is durable, with no hop through
    /// the concurrency thread pool. It must be quick (hand the result on, do not work in it).
    ///
    /// `entitlementEffects`, when given, receives each event's effect on its customer's
    /// entitlement (`EntitlementEffect`, decided while the events are applied) before
    /// `completion` runs; in cluster mode they are decided as this node's applier applies the record
    /// (`ReplicatedLog.submit(_:partitionKey:effects:completion:)`).
    public func ingest(tenantId: String = Tenant.defaultId, events: [UsageEvent], entitlementEffects: EntitlementEffects? = nil,
                       completion: @escaping @Sendable (Result<[EventResult], EngineError>) -> Void) {
        if let replicated = options.replicatedLog {
            replicate(replicated, .eventsAccepted(tenantId: tenantId, acceptedAtMilliseconds: EngineOptions.systemClock(), events: events),
                      effects: entitlementEffects, { if case .events(let results) = $0 { results } else { nil } }, reply: completion)
            return
        }
        let encoded = EncodedEvents(events)
        submit(.ingest(tenantId: tenantId, events: events, encoded: encoded, effects: entitlementEffects, reply: completion))
    }

    /// Creates a meter. Its backfill of retained events starts right after. With an `actor`,
    /// the audit trail records who created it.
    public func createMeter(_ definition: MeterDefinition, actor: AuditActor? = nil) async throws(EngineError) -> Meter {
        if let replicated = options.replicatedLog {
            return try await replicate(replicated, Self.attributed(.meterCreated(definition, atMilliseconds: EngineOptions.systemClock()), to: actor), Self.meterReply)
        }
        return try await call { reply in .createMeter(definition, actor: actor, reply: reply) }
    }

    /// Changes a meter's display name, the only mutable field.
    public func updateDisplayName(tenantId: String = Tenant.defaultId, meter: MeterReference, displayName: String,
                                  actor: AuditActor? = nil) async throws(EngineError) -> Meter {
        if let replicated = options.replicatedLog {
            let meterId = try await self.meter(tenantId: tenantId, meter).id
            let record = StateRecord.meterDisplayNameChanged(tenantId: tenantId, meterId: meterId, displayName: displayName, atMilliseconds: EngineOptions.systemClock())
            return try await replicate(replicated, Self.attributed(record, to: actor), Self.meterReply)
        }
        return try await call { reply in .updateDisplayName(tenantId: tenantId, meter: meter, displayName: displayName, actor: actor, reply: reply) }
    }

    /// Archives a meter: it stops counting, stays queryable and frees its event name.
    public func archiveMeter(tenantId: String = Tenant.defaultId, meter: MeterReference, actor: AuditActor? = nil) async throws(EngineError) -> Meter {
        if let replicated = options.replicatedLog {
            let meterId = try await self.meter(tenantId: tenantId, meter).id
            let record = StateRecord.meterArchived(tenantId: tenantId, meterId: meterId, atMilliseconds: EngineOptions.systemClock())
            return try await replicate(replicated, Self.attributed(record, to: actor), Self.meterReply)
        }
        return try await call { reply in .archiveMeter(tenantId: tenantId, meter: meter, actor: actor, reply: reply) }
    }

    /// Creates an API key (its secret's hash is in `definition`); answers once it is durable.
    public func createApiKey(_ definition: ApiKeyDefinition, actor: AuditActor) async throws(EngineError) -> ApiKey {
        if let replicated = options.replicatedLog {
            return try await replicate(replicated, .apiKeyCreated(definition, createdBy: actor, atMilliseconds: EngineOptions.systemClock()), Self.keyReply)
        }
        return try await call { reply in .createApiKey(definition, actor: actor, reply: reply) }
    }

    /// Revokes an API key of `tenantId`; answers once the revocation is durable.
    public func revokeApiKey(tenantId: String, keyId: String, actor: AuditActor) async throws(EngineError) -> ApiKey {
        if let replicated = options.replicatedLog {
            let record = StateRecord.apiKeyRevoked(tenantId: tenantId, keyId: keyId, revokedBy: actor, atMilliseconds: EngineOptions.systemClock())
            return try await replicate(replicated, record, Self.keyReply)
        }
        return try await call { reply in .revokeApiKey(tenantId: tenantId, keyId: keyId, actor: actor, reply: reply) }
    }

    /// Like `read`, but answered as soon as the writer takes it, from the applied state (every
    /// write acknowledged before this call is in it; writes still being screened or synced are
    /// not): it does not wait behind the group commits queued with it. For point reads that
    /// must stay fast under full ingest (CheckEntitlement).
    public func readApplied<Value: Sendable>(_ body: @escaping (MeterStateMachine) throws(MeterError) -> Value) async throws(EngineError) -> Value {
        try await call { reply in
            .readApplied { machine in
                do throws(MeterError) {
                    reply(.success(try body(machine)))
                } catch {
                    reply(.failure(.rejected(error)))
                }
            }
        }
    }

    /// `readApplied` for callers that are not async: `body` runs on the writer thread and must
    /// be quick. Queued before this returns.
    public func readApplied(completion body: @escaping (MeterStateMachine) -> Void) {
        submit(.readApplied(body))
    }

    /// Runs `body` on the writer thread against the current (durable) state.
    public func read<Value: Sendable>(_ body: @escaping (MeterStateMachine) throws(MeterError) -> Value) async throws(EngineError) -> Value {
        try await call { reply in
            .read { machine in
                do throws(MeterError) {
                    reply(.success(try body(machine)))
                } catch {
                    reply(.failure(.rejected(error)))
                }
            }
        }
    }

    /// Usage of a meter over a range (see `UsageQuery`).
    public func usage(_ query: UsageQuery) async throws(EngineError) -> UsageResult {
        try await read { machine throws(MeterError) in try machine.usage(query) }
    }

    /// One meter of a tenant.
    public func meter(tenantId: String = Tenant.defaultId, _ reference: MeterReference) async throws(EngineError) -> Meter {
        try await read { machine throws(MeterError) in try machine.meter(tenantId: tenantId, reference) }
    }

    /// The engine's health: log positions, durability, failure. Answered from the counters the
    /// writer published after its last group commit, snapshot or failure, without queueing
    /// behind writes (see `publishedStatus`).
    public func status() async -> EngineStatus {
        currentStatus()
    }

    /// `status()` for callers outside an async context (it only takes a lock briefly).
    public func currentStatus() -> EngineStatus {
        condition.withLock {
            var status = publishedStatus
            status.queuedEvents = queuedEvents
            if finished && status.failure == nil { status.failure = "engine stopped" }
            return status
        }
    }

    func call<Value: Sendable>(
        _ make: (@escaping (Result<Value, EngineError>) -> Void) -> Command
    ) async throws(EngineError) -> Value {
        let result: Result<Value, EngineError> = await withCheckedContinuation { continuation in
            submit(make { continuation.resume(returning: $0) })
        }
        return try result.get()
    }

    /// Publishes the writer's counters for `status()`. Called on the writer thread after each
    /// group is applied (before its replies), after snapshots and retention, and on failure.
    func publishStatus() {
        let status = EngineStatus(durability: options.durability, lastAppliedSequence: machine.lastAppliedSequence,
                                  firstRetainedSequence: log.firstSequence, failure: failure, queuedEvents: 0,
                                  snapshotSequence: snapshotSequence, groupCommits: groupCommits, syncs: syncs,
                                  groupCommitEvents: groupCommitEvents, snapshotInProgress: snapshotRequested,
                                  dedupIndex: machine.dedupIndexFill)
        condition.lock()
        publishedStatus = status
        condition.unlock()
        notificationSignal.publish(machine.lastNotificationNumber)
    }

    /// Wakes the writer to collect a snapshot the replica finished.
    func snapshotDidFinish() {
        condition.lock()
        snapshotFinished = true
        condition.signal()
        condition.unlock()
    }

    // MARK: Stopping

    /// Stops taking work, finishes and fsyncs what is queued, writes a snapshot and closes the
    /// log. Safe to call more than once; returns when the engine has stopped.
    public func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            condition.lock()
            if finished {
                condition.unlock()
                continuation.resume()
                return
            }
            stopping = true
            shutdownWaiters.append(continuation)
            condition.signal()
            condition.unlock()
        }
    }
}
