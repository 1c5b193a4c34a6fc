// Built with the Cluster trait only (`swift build --traits Cluster`, needs libnats-dev).
#if Cluster
import Foundation
import Logging
import MeterCore
import MeterEngine
import MeterLog

/// Cluster mode's replicated log (docs/cluster.md): a JetStream stream on three NATS servers
/// (R3). Every node applies its meta subject (meters, keys, entitlements, grants and threshold
/// rules) with its meta engine; each
/// event partition is applied by the engine of the node that owns it (`ClusterNode`).
///
/// A write of this node (`submit`, called by the engine) is published as one message, the log
/// record a single node would store, with a message id unique to this write: publisher threads
/// wait for the stream's acknowledgement (the durability point) and retry a publish that was
/// not acknowledged with the same id, which JetStream drops as a duplicate if the first one
/// was stored. Appliers (`LogApplier`) read the stream from its start with ordered consumers
/// and hand each record of their subjects to `MeterEngine.applyReplicated` with the engine's clock set to the
/// record's stream timestamp: every node screens (validation, dedup window, exactly-once
/// index) the same records in the same order at the same times, so every node decides the
/// same. The write is answered once it is acknowledged and applied here, with what applying it
/// gave.
public final class ClusterLog: ReplicatedLog, @unchecked Sendable {
    /// Version of the message layout: [version][record type][record payload]. Version 2: event
    /// subjects are partitioned by tenant and customer (version 1: by tenant), and each
    /// partition is applied by its owner only.
    public static let messageFormatVersion: UInt8 = 2

    public let options: ClusterOptions
    /// The engine's clock in cluster mode (see `LogClock`).
    public let clock = LogClock()
    private let logger: Logger
    /// Distinguishes this process's message ids from earlier runs of the same node.
    private let runId = String(UInt64.random(in: 0...UInt64.max), radix: 36)

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Publish] = []
    private var waiters: [String: Waiter] = [:]
    private var published: UInt64 = 0
    private var stopping = false
    private var halted: String?
    private var runningThreads = 0
    private var connection: JetStreamConnection?
    private var metaApplier: LogApplier?
    /// The shared snapshots (partitions' and the meta engine's), once connected.
    private var sharedSnapshots: PartitionSnapshots?
    private var clusterDedupKey: DedupKey?
    /// The key-value bucket `<stream>_SETTINGS`, once connected.
    private var settingsBucket: KeyValueBucket?
    /// The meta snapshot the meta engine was seeded with (`prepareMeta`), if any.
    private var metaSeed: SnapshotManifest?
    /// Told of every message the meta applier passes (with its sequence; `applied`: a meta record).
    private var metaObserver: (@Sendable (_ sequence: UInt64, _ applied: Bool) -> Void)?
    /// Set by `ClusterNode`: why this node cannot take a write for a partition (it does not
    /// own it, or is rebuilding it); nil when it can.
    var partitionGate: (@Sendable (Int) -> EngineError?)?

    private struct Publish {
        var messageId: String
        var subject: String
        var data: [UInt8]
    }

    private struct Waiter {
        var subject: String
        var completion: @Sendable (Result<ReplicatedReply, EngineError>) -> Void
        /// Where the applier puts the write's entitlement effects, when its client asked.
        var effects: EntitlementEffects?
        var acknowledged = false
        var reply: Result<ReplicatedReply, EngineError>?
    }

    public init(options: ClusterOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// The stream sequence the meta engine has applied through.
    public var appliedThrough: UInt64 { condition.withLock { metaApplier }?.appliedThrough ?? 0 }

    /// The connection once started.
    var activeConnection: JetStreamConnection? { condition.withLock { connection } }
    /// The shared snapshots, once connected (`prepareMeta` or `start`).
    var snapshots: PartitionSnapshots? { condition.withLock { sharedSnapshots } }
    /// The cluster's dedup key (`<stream>_SETTINGS`), once connected.
    var dedupKey: DedupKey? { condition.withLock { clusterDedupKey } }
    /// The key-value bucket `<stream>_SETTINGS` (where `StreamTrimmer` announces trimming), once connected.
    var settings: KeyValueBucket? { condition.withLock { settingsBucket } }
    /// The meta engine, once started.
    var metaEngine: MeterEngine? { condition.withLock { metaApplier }?.engine }
    /// Meta records the meta applier applied since it started (after the meta snapshot, if seeded).
    public var metaRecordsApplied: UInt64 { condition.withLock { metaApplier }?.appliedRecords ?? 0 }
    /// The meta snapshot the meta engine started from, if any.
    public var metaSnapshot: SnapshotManifest? { condition.withLock { metaSeed } }

    /// Set by `ClusterNode`: called on the meta applier's thread after each message.
    func observeMeta(_ observer: @escaping @Sendable (_ sequence: UInt64, _ applied: Bool) -> Void) {
        condition.withLock { metaObserver = observer }
    }

    // MARK: Writes

    public func submit(_ record: LogRecord, partitionKey: PartitionKey?,
                       completion: @escaping @Sendable (Result<ReplicatedReply, EngineError>) -> Void) {
        submit(record, partitionKey: partitionKey, effects: nil, completion: completion)
    }

    public func submit(_ record: LogRecord, partitionKey: PartitionKey?, effects: EntitlementEffects?,
                       completion: @escaping @Sendable (Result<ReplicatedReply, EngineError>) -> Void) {
        var data: [UInt8] = [Self.messageFormatVersion, record.type]
        data.append(contentsOf: record.payload)
        var subject = metaSubject
        if partitionKey == nil, let refusal = refusalOfMeterAfterTrim(record) {
            completion(.failure(refusal))
            return
        }
        if let partitionKey {
            let partition = ClusterPartitioning.partition(tenantId: partitionKey.tenantId, customerId: partitionKey.customerId, partitions: options.partitions)
            // Only the partition's owner can answer the write (it applies the partition).
            if let refusal = partitionGate?(partition) {
                completion(.failure(refusal))
                return
            }
            subject = partitionSubject(partition)
        }
        condition.lock()
        if stopping || halted != nil {
            let reason = halted ?? "meterd is shutting down"
            condition.unlock()
            completion(.failure(.unavailable(reason)))
            return
        }
        published += 1
        let messageId = "\(options.nodeName)-\(runId)-\(published)"
        waiters[messageId] = Waiter(subject: subject, completion: completion, effects: effects)
        queue.append(Publish(messageId: messageId, subject: subject, data: data))
        condition.signal()
        condition.unlock()
    }

    /// The subject of meters, keys, entitlements, grants and threshold rules, applied by every engine.
    public var metaSubject: String { "\(options.subjectPrefix).meta" }

    /// The subject of event partition `partition`.
    public func partitionSubject(_ partition: Int) -> String { "\(options.subjectPrefix).p\(partition)" }

    /// With trimming on: a new meter is refused once trimming was announced
    /// (`StreamTrimmer.announcementKey` in `<stream>_SETTINGS`; docs/cluster.md, "Trimming"):
    /// its backfill would need the events trimmed away, so the partitions started from snapshots
    /// could not count it as a full replay would.
    private func refusalOfMeterAfterTrim(_ record: LogRecord) -> EngineError? {
        guard options.retainSeconds > 0, record.type == RecordCodec.meterCreatedType || record.type == RecordCodec.auditedType,
              let decoded = try? RecordCodec.decode(type: record.type, payload: record.payload) else { return nil }
        switch decoded {
        case .meterCreated, .audited(_, .meterCreated): break
        default: return nil
        }
        guard let settings else { return .unavailable("the cluster log is not started") }
        let announced: String
        switch settings.get(StreamTrimmer.announcementKey) {
        case .success(nil): return nil
        case .success(let entry?): announced = entry.value
        case .failure(let error): return .unavailable("cannot read whether the cluster log is trimmed (\(error)); retry shortly")
        }
        return .unavailable("the cluster log is trimmed or about to be (--cluster-retain-seconds; \(announced)): "
                            + "a new meter would backfill events that are no longer in it, so meters cannot be created any more in this cluster; "
                            + "create meters before trimming starts, or run the cluster without --cluster-retain-seconds")
    }

    // MARK: Life cycle

    /// Connects to NATS (once), creates the stream and the snapshot stream when missing and
    /// reads the cluster's dedup key (the first node's, from `<stream>_SETTINGS`).
    private func connect(deadline: Date) throws(NATSError) -> JetStreamConnection {
        if let connection = activeConnection { return connection }
        let connection = try JetStreamConnection(servers: options.servers, name: "meterd-\(options.nodeName)", deadline: deadline)
        try connection.ensureStream(name: options.streamName, subjects: ["\(options.subjectPrefix).>"], replicas: options.replicas,
                                    duplicateWindowSeconds: options.duplicateWindowSeconds, deadline: deadline)
        let keyText = try connection.firstValue(bucket: "\(options.streamName)_SETTINGS", key: "dedup-key", value: DedupKey.random().hexadecimal,
                                                replicas: options.replicas, deadline: deadline)
        guard let key = DedupKey(hexadecimal: keyText) else {
            throw NATSError(message: "the cluster's dedup key in \(options.streamName)_SETTINGS is not 32 hex digits")
        }
        let snapshots = PartitionSnapshots(connection: connection, options: options, logger: logger)
        try snapshots.start(replicas: options.replicas, deadline: deadline)
        let settings = try connection.keyValue(bucket: "\(options.streamName)_SETTINGS", replicas: options.replicas, deadline: deadline)
        condition.withLock {
            settingsBucket = settings
            self.connection = connection
            clusterDedupKey = key
            sharedSnapshots = snapshots
        }
        return connection
    }

    /// Before the meta engine opens: connects, and puts the newest meta snapshot that verifies
    /// into the meta engine's empty directory `directory` (docs/cluster.md, "Meta snapshots"),
    /// so that `start` applies only the meta records after it. Returns the cluster's dedup key,
    /// which the meta engine must use to open the snapshot. Throws when the stream was trimmed
    /// and no meta snapshot covers what was trimmed.
    public func prepareMeta(directory: String) throws(NATSError) -> DedupKey {
        let deadline = Date(timeIntervalSinceNow: TimeInterval(options.startTimeoutSeconds))
        let connection = try connect(deadline: deadline)
        let first = try connection.sequences(stream: options.streamName).first
        let loaded = snapshots?.loadNewest(.meta, firstSequence: first)
        if let loaded {
            do {
                try MeterEngine.seed(directory: directory, with: loaded.snapshot)
                condition.withLock { metaSeed = loaded.manifest }
            } catch {
                throw NATSError(message: "cannot write the meta snapshot through stream sequence \(loaded.manifest.streamSequence) into \(directory): \(error)")
            }
        } else if first > 1 {
            throw NATSError(message: "stream \(options.streamName) is trimmed (it starts at sequence \(first)) and no meta snapshot that verifies covers "
                            + "the records before it: this node cannot rebuild the meters and keys")
        }
        return dedupKey!
    }

    /// Connects to NATS (unless `prepareMeta` did), creates the stream when missing, checks
    /// the settings, and starts the publishers and the applier of the meta subject to `engine`
    /// (the node's meta engine: meters and keys) from the stream's start, or after the meta
    /// snapshot `prepareMeta` seeded it with. Returns the stream's last sequence at start: once
    /// `appliedThrough` reaches it, the node has caught up.
    @discardableResult
    public func start(engine: MeterEngine) throws(NATSError) -> UInt64 {
        let deadline = Date(timeIntervalSinceNow: TimeInterval(options.startTimeoutSeconds))
        let connection = try connect(deadline: deadline)
        condition.withLock { runningThreads = options.publisherThreads }
        if !options.settings.isEmpty {
            let bucket = "\(options.streamName)_SETTINGS"
            let agreed = try connection.firstValue(bucket: bucket, key: "state-machine", value: options.settings,
                                                   replicas: options.replicas, deadline: deadline)
            guard agreed == options.settings else {
                throw NATSError(message: "this node's state-machine settings differ from the cluster's (key-value bucket \(bucket)), "
                                + "and it would decide differently from the other nodes: cluster [\(agreed)], this node [\(options.settings)]")
            }
        }
        let lastSequence = try connection.lastSequence(stream: options.streamName)
        logger.info("cluster log connected", metadata: ["servers": "\(options.servers.joined(separator: ","))", "stream": "\(options.streamName)",
                                                       "node": "\(options.nodeName)"])
        for index in 0..<options.publisherThreads {
            startThread(name: "meterd-publisher-\(index)") { [self] in runPublisher(connection) }
        }
        let applier = LogApplier(name: "meta", engine: engine, clock: clock, homeSubject: metaSubject, metaSubject: metaSubject, logger: logger,
                                 afterApply: { [weak self] sequence, _, _ in
                                     self?.notifyMeta(sequence, applied: true)
                                     return nil
                                 },
                                 afterSkip: { [weak self] sequence in self?.notifyMeta(sequence, applied: false) })
        let startAfter = condition.withLock {
            metaApplier = applier
            return metaSeed?.streamSequence ?? 0
        }
        applier.start(connection: connection, log: self, streamName: options.streamName, subjectPrefix: options.subjectPrefix, startAfter: startAfter)
        return max(lastSequence, startAfter)
    }

    private func notifyMeta(_ sequence: UInt64, applied: Bool) {
        condition.withLock { metaObserver }?(sequence, applied)
    }

    /// Why the meta applier stopped applying for good, if it did.
    public var haltReason: String? { condition.withLock { metaApplier }?.haltReason }

    /// Waits until the meta engine has applied through `sequence`; throws if its applier
    /// halted or the node is stopping.
    public func waitUntilApplied(_ sequence: UInt64) throws(NATSError) {
        guard let applier = condition.withLock({ metaApplier }) else { throw NATSError(message: "the cluster log is not started") }
        try applier.waitUntilApplied(sequence)
    }

    /// Stops publishing and applying (before the engine shuts down); writes still waiting are
    /// answered UNAVAILABLE (the client retries them with the same event ids).
    public func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while runningThreads > 0 { condition.wait() }
        let applier = metaApplier
        condition.unlock()
        applier?.stop()
        condition.lock()
        let orphans = waiters
        waiters.removeAll()
        queue.removeAll()
        connection = nil
        condition.unlock()
        for waiter in orphans.values { waiter.completion(.failure(.unavailable("meterd is shutting down; retry with the same event ids"))) }
    }

    private func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            body()
            condition.withLock {
                runningThreads -= 1
                condition.broadcast()
            }
        }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }

    // MARK: Publishers

    private func runPublisher(_ connection: JetStreamConnection) {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if stopping {
                condition.unlock()
                return
            }
            let publish = queue.removeFirst()
            condition.unlock()
            let started = DispatchTime.now().uptimeNanoseconds
            var attempts = 0
            while true {
                attempts += 1
                switch connection.publish(subject: publish.subject, data: publish.data, messageId: publish.messageId,
                                          timeoutMilliseconds: options.publishTimeoutMilliseconds) {
                case .success:
                    acknowledged(publish.messageId)
                case .failure(let error):
                    let elapsedMilliseconds = Int((DispatchTime.now().uptimeNanoseconds - started) / 1_000_000)
                    let giveUp = elapsedMilliseconds >= options.publishGiveUpMilliseconds || condition.withLock { stopping }
                    logger.warning("publish to the cluster log failed", metadata: [
                        "messageId": "\(publish.messageId)", "attempt": "\(attempts)", "error": "\(error)", "givingUp": "\(giveUp)"])
                    if giveUp {
                        fail(publish.messageId, .unavailable("the cluster log did not acknowledge the write within \(elapsedMilliseconds) ms (\(error)); "
                                                             + "it may or may not have been stored: retry with the same event ids"))
                    } else {
                        // Back off before the next attempt while the NATS client reconnects.
                        usleep(useconds_t(min(50_000 * attempts, 500_000)))
                        continue
                    }
                }
                break
            }
        }
    }

    private func acknowledged(_ messageId: String) {
        condition.lock()
        guard var waiter = waiters[messageId] else {
            condition.unlock()
            return
        }
        if let reply = waiter.reply {
            waiters[messageId] = nil
            condition.unlock()
            waiter.completion(reply)
            return
        }
        waiter.acknowledged = true
        waiters[messageId] = waiter
        condition.unlock()
    }

    private func fail(_ messageId: String, _ error: EngineError) {
        let waiter = condition.withLock { waiters.removeValue(forKey: messageId) }
        waiter?.completion(.failure(error))
    }

    // MARK: Answers

    /// The entitlement effects sink of this node's write `messageId`, if its client asked.
    func effects(messageId: String) -> EntitlementEffects? {
        condition.withLock { waiters[messageId]?.effects }
    }

    /// A record of this node's write was applied by the applier of its subject: answers the
    /// write once it is also acknowledged.
    func applied(messageId: String, result: Result<ReplicatedReply, EngineError>) {
        condition.lock()
        guard var waiter = waiters[messageId] else {
            condition.unlock()
            return
        }
        if waiter.acknowledged {
            waiters[messageId] = nil
            condition.unlock()
            waiter.completion(result)
            return
        }
        waiter.reply = result
        waiters[messageId] = waiter
        condition.unlock()
    }

    /// Answers every write on `subject` still waiting UNAVAILABLE (its applier stopped here:
    /// the partition moved or halted); the client retries with the same event ids, which the
    /// partition's next owner answers as duplicates if the write was stored.
    func failWaiters(subject: String, reason: String) {
        condition.lock()
        let orphans = waiters.filter { $0.value.subject == subject }
        for key in orphans.keys { waiters[key] = nil }
        condition.unlock()
        for waiter in orphans.values { waiter.completion(.failure(.unavailable("\(reason); retry with the same event ids"))) }
    }

    /// Stops accepting writes for good (the meta applier halted: this node no longer agrees
    /// with the others) and answers every waiting write UNAVAILABLE.
    func halt(_ reason: String) {
        logger.critical("cluster log stopped: this node no longer applies the log", metadata: ["reason": "\(reason)"])
        condition.lock()
        halted = reason
        let orphans = waiters
        waiters.removeAll()
        queue.removeAll()
        condition.unlock()
        for waiter in orphans.values { waiter.completion(.failure(.unavailable(reason))) }
    }
}

#endif
