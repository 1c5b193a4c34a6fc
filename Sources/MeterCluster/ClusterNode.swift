// Built with the Cluster trait only (`swift build --traits Cluster`, needs libnats-dev).
#if Cluster
import Foundation
import Logging
import MeterCore
import MeterEngine

/// A node's event partitions in partitioned cluster mode (docs/cluster.md, "Leases"): holds
/// partition leases in the JetStream key-value bucket `<stream>_OWNERS` (decided by
/// `LeasePlanner`, written as compare-and-set on the key's revision), and runs one engine per
/// partition it holds, started from the partition's newest snapshot shared through JetStream
/// (`PartitionSnapshots`), or from the stream's start when there is none, by a `LogApplier`
/// that applies the meta subject and that partition's subject after it. Each engine publishes
/// a snapshot every `ClusterOptions.snapshotEveryRecords` records or `snapshotEverySeconds`, and
/// before its lease is given back (rebalancing, SIGTERM); publishing is fenced by the lease
/// (`LeaseFence`). As holder of partition 0's lease it also publishes the meta engine's
/// snapshots (`MetaSnapshotter`) and, with `retainSeconds`, trims the stream behind every
/// snapshot (`StreamTrimmer`). A partition it no longer holds is stopped at once: its
/// engine closes, its waiting writes are answered UNAVAILABLE, and requests for it are refused
/// naming the owner.
///
/// Exactly-once does not depend on leases being exclusive: a partition's state is decided by
/// applying its subjects in stream order, so two nodes applying it (an owner that has not yet
/// noticed it lost its lease, and the new one) decide the same. Leases only decide who answers.
public final class ClusterNode: PartitionedEngines, @unchecked Sendable {
    private let log: ClusterLog
    /// The node's engine options with the cluster's dedup key (set in `start`).
    private var baseOptions: EngineOptions
    /// The shared snapshots (set in `start`).
    private var snapshots: PartitionSnapshots?
    /// Trims the stream behind the snapshots (with `retainSeconds`; set in `start`).
    private var trimmer: StreamTrimmer?
    private let logger: Logger
    private let bucketName: String

    private let condition = NSCondition()
    private var planner: LeasePlanner
    private var replicas: [Int: Replica] = [:]
    /// Every partition's lease as last read (for naming owners to clients).
    private var leases: [Int: PartitionLease] = [:]
    /// Partitions this node cannot rebuild because the stream was trimmed, with why (told once).
    private var unrebuildable: [Int: String] = [:]
    private var stopping = false
    private var running = false

    private struct Replica {
        var applier: LogApplier
        /// The stream's last sequence when the partition was taken: serving once applied.
        var catchUpTo: UInt64
        /// Snapshot schedule and requests of the applier's thread.
        var control: ReplicaControl
    }

    /// - Parameter engineOptions: the node's engine options; each partition's engine uses
    ///   them with its own directory under `ClusterOptions.partitionsDirectory` and its own clock.
    public init(log: ClusterLog, engineOptions: EngineOptions, logger: Logger) {
        self.log = log
        self.baseOptions = engineOptions
        self.logger = logger
        let options = log.options
        bucketName = "\(options.streamName)_OWNERS"
        planner = LeasePlanner(node: options.nodeName, address: options.address, partitions: options.partitions,
                               leaseMilliseconds: options.leaseMilliseconds)
        log.partitionGate = { [unowned self] partition in self.route(partition: partition).refusal(partition: partition) }
    }

    // MARK: PartitionedEngines

    public func partition(tenantId: String, customerId: String) -> Int {
        ClusterPartitioning.partition(tenantId: tenantId, customerId: customerId, partitions: log.options.partitions)
    }

    public func route(partition: Int) -> PartitionRoute {
        let options = log.options
        condition.lock()
        defer { condition.unlock() }
        if let replica = replicas[partition], planner.holds(partition, now: Self.monotonicMilliseconds()) {
            if let halted = replica.applier.haltReason { return .unavailable(.unavailable("partition \(partition) stopped on \(options.nodeName): \(halted)")) }
            let applied = replica.applier.appliedThrough
            if applied >= replica.catchUpTo { return .local(replica.applier.engine) }
            return .unavailable(.unavailable("partition \(partition) is being rebuilt on \(options.nodeName) (stream sequence \(applied) of \(replica.catchUpTo) applied); retry shortly"))
        }
        if let lease = leases[partition], let owner = lease.owner, owner != options.nodeName, !lease.address.isEmpty {
            return .remote(node: owner, address: lease.address)
        }
        if let reason = unrebuildable[partition] {
            return .unavailable(.unavailable("partition \(partition) cannot be served on \(options.nodeName): \(reason)"))
        }
        if replicas[partition] != nil {
            return .unavailable(.unavailable("partition \(partition) is not answered on \(options.nodeName) right now: its lease could not be renewed in time (NATS unavailable?); retry shortly"))
        }
        return .unavailable(.unavailable("partition \(partition) has no owner right now (its lease is being taken over); retry shortly"))
    }

    /// Every partition as this node sees it now (for `/metrics`).
    public func partitionStatuses() -> [PartitionStatus] {
        (0..<log.options.partitions).map { partition in
            let serving: Bool
            if case .local = route(partition: partition) { serving = true } else { serving = false }
            let applied = condition.withLock { replicas[partition]?.applier.appliedThrough ?? 0 }
            return PartitionStatus(partition: partition, serving: serving, appliedStreamSequence: applied)
        }
    }

    /// The stream's last sequence, read from JetStream now (nil when it cannot be read).
    public func streamLastSequence() -> UInt64? {
        try? log.activeConnection?.lastSequence(stream: log.options.streamName)
    }

    /// Reads the stream's last sequence, then waits until this node's engine of `partition`
    /// has applied through it (polling every millisecond, at most 10 s): whatever the log
    /// acknowledged before the call, on any node, is then in the engine's state.
    public func readBarrier(partition: Int) async throws(EngineError) -> MeterEngine {
        guard let connection = log.activeConnection else { throw .unavailable("the cluster log is not started") }
        let last: UInt64
        do {
            last = try connection.lastSequence(stream: log.options.streamName)
        } catch {
            throw .unavailable("cannot read the cluster log's last sequence (\(error)); retry shortly")
        }
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        while true {
            let route = route(partition: partition)
            guard case .local(let engine) = route else { throw route.refusal(partition: partition)! }
            let applied = condition.withLock { replicas[partition]?.applier.appliedThrough ?? 0 }
            if applied >= last { return engine }
            guard ContinuousClock.now < deadline else {
                throw .unavailable("partition \(partition) on \(log.options.nodeName) did not apply the cluster log through sequence \(last) within 10 s "
                                   + "(applied through \(applied)); retry shortly")
            }
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    // MARK: Life cycle

    /// Starts the lease thread (after the log started): reads the cluster's dedup key (the
    /// first node's, from `<stream>_SETTINGS`: every node's partition engines must fingerprint
    /// event ids alike to read each other's snapshots) and opens the snapshot stream first.
    public func start() throws(NATSError) {
        guard let connection = log.activeConnection, let snapshots = log.snapshots, let key = log.dedupKey else {
            throw NATSError(message: "the cluster log is not started")
        }
        let deadline = Date(timeIntervalSinceNow: TimeInterval(log.options.startTimeoutSeconds))
        condition.withLock {
            baseOptions.core.dedupKey = key
            self.snapshots = snapshots
        }
        let bucket = try connection.keyValue(bucket: bucketName, replicas: log.options.replicas, deadline: deadline,
                                             waitMilliseconds: max(100, log.options.leaseMilliseconds / 4))
        // Fencing: a snapshot's manifest is published only while this node holds the lease.
        let fence = LeaseFence(bucket: bucket, node: log.options.nodeName, holdsLocally: { [weak self] partition in
            self?.holdsLease(partition) ?? false
        })
        snapshots.fence = { fence.check($0) }
        // The meta engine's snapshots, published by partition 0's holder; trimming, by the same node.
        if let metaEngine = log.metaEngine {
            let meta = MetaSnapshotter(engine: metaEngine, snapshots: snapshots, schedule: schedule(), publishes: { [weak self] in
                self?.holdsLease(0) ?? false
            })
            log.observeMeta { sequence, applied in meta.passed(sequence, applied: applied) }
        }
        if log.options.retainSeconds > 0 {
            guard let settings = log.settings else { throw NATSError(message: "the cluster log is not started") }
            let trimmer = StreamTrimmer(connection: connection, snapshots: snapshots, options: log.options, metaSubject: log.metaSubject,
                                        settings: settings, logger: logger, trims: { [weak self] in self?.holdsLease(0) ?? false })
            condition.withLock { self.trimmer = trimmer }
            trimmer.start()
        }
        condition.withLock { running = true }
        let thread = Thread { [self] in
            runLeases(connection, bucket: bucket)
            condition.withLock {
                running = false
                condition.broadcast()
            }
        }
        thread.name = "meterd-leases"
        thread.start()
    }

    /// Whether this node holds `partition`'s lease by its own clock now.
    private func holdsLease(_ partition: Int) -> Bool {
        condition.withLock { planner.holds(partition, now: Self.monotonicMilliseconds()) }
    }

    /// A snapshot schedule with this node's settings.
    private func schedule() -> SnapshotSchedule {
        SnapshotSchedule(everyRecords: log.options.snapshotEveryRecords, everySeconds: log.options.snapshotEverySeconds,
                         followStream: log.options.retainSeconds > 0)
    }

    /// Stops the lease thread, gives the held leases back (other nodes take them at once) and
    /// stops every partition engine.
    public func stop() async {
        let stopped = stopLeaseThread()
        condition.withLock { trimmer }?.stop()
        for (partition, replica) in stopped { await stopReplica(partition, replica, reason: "meterd is shutting down") }
        condition.withLock { snapshots }?.stop()
    }

    private func stopLeaseThread() -> [Int: Replica] {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running { condition.wait() }
        let stopped = replicas
        replicas.removeAll()
        condition.unlock()
        return stopped
    }

    private static func monotonicMilliseconds() -> Int64 { Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000) }

    private func runLeases(_ connection: JetStreamConnection, bucket: KeyValueBucket) {
        let options = log.options
        let tick = max(50, options.leaseMilliseconds / 4)
        var knownNodes: Set<String> = []
        while true {
            let now = Self.monotonicMilliseconds()
            _ = bucket.put(LeasePlanner.presenceKey(options.nodeName), options.address)
            var presence: [String: UInt64] = [:]
            var read: [Int: (revision: UInt64, lease: PartitionLease?)] = [:]
            var readFailure: NATSError?
            // Node names come from listing the bucket (a consumer per call: it can fail for a
            // while after a NATS server restarts; the names known so far are read meanwhile).
            if case .success(let keys) = bucket.keys() {
                for key in keys where key.hasPrefix("node.") { knownNodes.insert(String(key.dropFirst(5))) }
            }
            for name in knownNodes {
                if case .success(let entry?) = bucket.get(LeasePlanner.presenceKey(name)) { presence[name] = entry.revision }
            }
            for partition in 0..<options.partitions {
                switch bucket.get(LeasePlanner.leaseKey(partition)) {
                case .success(let entry?): read[partition] = (entry.revision, PartitionLease(text: entry.value))
                case .success(nil): break
                case .failure(let error): readFailure = error
                }
            }
            let readFailed = readFailure != nil
            if let readFailure {
                condition.withLock { planner.restartExpiryClocks() }
                logger.warning("cannot read the partition leases; no lease writes this tick", metadata: [
                    "error": "\(readFailure)", "milliseconds": "\(Self.monotonicMilliseconds() - now)"])
            }
            var writes: [(LeasePlanner.Action, UInt64?)] = []
            // Partitions whose applier stopped for a release (started again if the release failed).
            var released: Set<Int> = []
            if !readFailed {
                let plan = condition.withLock {
                    let live = planner.observePresence(presence, now: now)
                    return planner.plan(leases: read, liveNodes: live, now: now)
                }
                let value = planner.ownLease.text
                for action in plan {
                    let result: Result<UInt64, NATSError>
                    switch action {
                    case .create(let partition): result = bucket.create(LeasePlanner.leaseKey(partition), value)
                    case .take(let partition, let revision), .renew(let partition, let revision):
                        result = bucket.update(LeasePlanner.leaseKey(partition), value, last: revision)
                    case .release(let partition, let revision):
                        // The taker starts from this node's state now (its applier stops here).
                        if let replica = condition.withLock({ replicas[partition] }) {
                            publishFinalSnapshot(partition, replica)
                            released.insert(partition)
                        }
                        result = bucket.update(LeasePlanner.leaseKey(partition), PartitionLease.free.text, last: revision)
                    }
                    writes.append((action, try? result.get()))
                    if case .failure(let error) = result, !(error.description.contains("wrong last sequence")) {
                        logger.warning("a lease write did not get through", metadata: ["action": "\(action)", "error": "\(error)"])
                    }
                    if case .success(let revision) = result {
                        switch action {
                        case .release: read[action.partition] = (revision, .free)
                        default: read[action.partition] = (revision, planner.ownLease)
                        }
                    }
                }
            }
            let (toStart, toStop, stopNow, toRebuild) = condition.withLock {
                for (action, revision) in writes {
                    planner.completed(action, revision: revision, startedAt: now)
                    if case .take = action, revision != nil { logger.info("took partition lease", metadata: ["partition": "\(action.partition)"]) }
                    if case .create = action, revision != nil { logger.info("took partition lease", metadata: ["partition": "\(action.partition)"]) }
                    if case .release = action, revision != nil { logger.info("released partition lease", metadata: ["partition": "\(action.partition)"]) }
                }
                for (partition, entry) in read { leases[partition] = entry.lease ?? PartitionLease(owner: "an unknown node", address: "?") }
                if stopping {
                    return ([Int](), [Int: Replica](), true, [Int]())
                }
                let holds = planner.holds(now: Self.monotonicMilliseconds())
                let start = holds.subtracting(replicas.keys).sorted()
                var stop: [Int: Replica] = [:]
                // A partition whose hold ran out while its lease still names this node (renewals
                // did not get through, e.g. while NATS elects the bucket's leader) keeps its engine
                // applying but is not answered for (`route`) until a renewal succeeds; one whose
                // lease names another node, or is free, is stopped.
                for (partition, replica) in replicas where !holds.contains(partition) && leases[partition]?.owner != options.nodeName {
                    stop[partition] = replica
                }
                // Stopped for a release that did not get through: started again (from the
                // snapshot just published) at the next tick. Asked to rebuild from the stream's
                // start (a backfill needs what the snapshot left out): now.
                var rebuild: [Int] = []
                for (partition, replica) in replicas where stop[partition] == nil {
                    if released.contains(partition) {
                        stop[partition] = replica
                    } else if replica.applier.haltReason != nil, replica.control.rebuildFromStart, holds.contains(partition) {
                        // (The applier sets the flag before it halts: reading the halt first orders them.)
                        stop[partition] = replica
                        rebuild.append(partition)
                    }
                }
                for partition in stop.keys { replicas[partition] = nil }
                return (start, stop, false, rebuild.sorted())
            }
            if stopNow {
                // Publish each partition's state first, so that whoever takes it replays nothing.
                for (partition, replica) in condition.withLock({ replicas }).sorted(by: { $0.key < $1.key }) {
                    publishFinalSnapshot(partition, replica)
                }
                releaseAll(bucket: bucket, read: read)
                return
            }
            for (partition, replica) in toStop {
                let reason = toRebuild.contains(partition) ? "rebuilding it from the stream's start: \(replica.applier.haltReason ?? "")"
                    : "this node no longer holds the lease of partition \(partition)"
                Self.blocking { await self.stopReplica(partition, replica, reason: reason) }
            }
            for partition in toStart { startReplica(partition, connection: connection) }
            for partition in toRebuild { startReplica(partition, connection: connection, fromStart: true) }
            condition.lock()
            if !stopping { _ = condition.wait(until: Date(timeIntervalSinceNow: Double(tick) / 1000)) }
            condition.unlock()
        }
    }

    /// Gives back every lease this node holds (graceful stop): other nodes take them at once.
    private func releaseAll(bucket: KeyValueBucket, read: [Int: (revision: UInt64, lease: PartitionLease?)]) {
        for (partition, entry) in read where entry.lease?.owner == log.options.nodeName {
            _ = bucket.update(LeasePlanner.leaseKey(partition), PartitionLease.free.text, last: entry.revision)
        }
    }

    /// Opens an engine for `partition` from the partition's newest shared snapshot (unless
    /// `fromStart`, or there is none that verifies and opens) and starts applying the stream
    /// after it.
    private func startReplica(_ partition: Int, connection: JetStreamConnection, fromStart: Bool = false) {
        let options = log.options
        let catchUpTo: UInt64
        let engine: MeterEngine
        let clock = LogClock()
        let (baseOptions, snapshots) = condition.withLock { (self.baseOptions, self.snapshots) }
        var loaded: SnapshotManifest?
        let started = ContinuousClock.now
        do {
            let sequences = try connection.sequences(stream: options.streamName)
            catchUpTo = sequences.last
            let first = sequences.first
            let directory = (options.partitionsDirectory as NSString).appendingPathComponent("partition-\(partition)")
            var engineOptions = baseOptions
            engineOptions.dataDirectory = directory
            engineOptions.clock = { clock.read() }
            try Self.emptyDirectory(directory)
            var opened: MeterEngine?
            if !fromStart, let snapshots, let newest = snapshots.loadNewest(.partition(partition), firstSequence: first) {
                do {
                    try MeterEngine.seed(directory: directory, with: newest.snapshot)
                    opened = try MeterEngine.open(options: engineOptions)
                    loaded = newest.manifest
                } catch {
                    // A snapshot whose bytes verify but that the engine refuses (another
                    // format, another dedup key): the stream's start instead, never a guess.
                    print("meterd: cluster node \(options.nodeName) skipped a snapshot of partition \(partition): "
                          + "the snapshot through stream sequence \(newest.manifest.streamSequence) does not open: \(error)")
                    fflush(nil)
                    logger.warning("skipped a partition snapshot", metadata: ["partition": "\(partition)", "reason": "\(error)"])
                    try Self.emptyDirectory(directory)
                }
            }
            // Trimmed (docs/cluster.md, "Trimming"): without a snapshot covering what was
            // trimmed the partition cannot be rebuilt as a full replay would; refused, never guessed.
            let covered = loaded?.streamSequence ?? 0
            if covered + 1 < first {
                if let engineToClose = opened { Self.blocking { await engineToClose.shutdown() } }
                let why = fromStart ? "it must be rebuilt from the stream's start (a meter's backfill needs the log before its snapshot)"
                    : "no snapshot of it that verifies covers through \(first - 1)"
                throw TrimmedStreamError(description: "cannot rebuild partition \(partition): stream \(options.streamName) is trimmed "
                                         + "(it starts at sequence \(first)) and \(why)")
            }
            engine = try opened ?? MeterEngine.open(options: engineOptions)
        } catch let error as TrimmedStreamError {
            let first = condition.withLock {
                planner.forget(partition)
                return unrebuildable.updateValue(error.description, forKey: partition) == nil
            }
            if first {
                // Tests and operators read this line (once per partition).
                print("meterd: cluster node \(options.nodeName) \(error.description)")
                fflush(nil)
                logger.critical("cannot rebuild a partition", metadata: ["partition": "\(partition)", "error": "\(error.description)"])
            }
            return
        } catch {
            logger.error("cannot start partition \(partition)", metadata: ["error": "\(error)"])
            condition.withLock { planner.forget(partition) }
            return
        }
        let startAfter = loaded?.streamSequence ?? 0
        let control = ReplicaControl(fromSnapshot: loaded != nil, schedule: schedule())
        let applier = LogApplier(name: "p\(partition)", engine: engine, clock: clock, homeSubject: log.partitionSubject(partition),
                                 metaSubject: log.metaSubject, logger: logger,
                                 afterApply: { [weak self] sequence, _, result in
                                     self?.afterApply(partition, engine: engine, control: control, sequence: sequence, result: result)
                                 },
                                 afterSkip: { [weak self] sequence in
                                     if control.schedule.passed(applied: false) { self?.capture(partition, engine: engine, control: control, sequence: sequence) }
                                 })
        condition.withLock {
            replicas[partition] = Replica(applier: applier, catchUpTo: catchUpTo, control: control)
            unrebuildable[partition] = nil
        }
        let node = options.nodeName
        let origin = loaded.map { "from the snapshot through \($0.streamSequence)" } ?? "from the stream's start"
        applier.start(connection: connection, log: log, streamName: options.streamName, subjectPrefix: options.subjectPrefix,
                      startAfter: startAfter, catchUpTo: max(catchUpTo, startAfter)) { [applier] in
            let elapsed = ContinuousClock.now - started
            let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
            // Tests and operators read this line.
            print("meterd: cluster node \(node) serves partition \(partition) (rebuilt through \(catchUpTo) in \(milliseconds) ms; "
                  + "\(origin), \(applier.appliedRecords) records replayed)")
            fflush(nil)
        }
        logger.info("rebuilding partition", metadata: ["partition": "\(partition)", "through": "\(catchUpTo)", "from": "\(startAfter)"])
    }

    private static func emptyDirectory(_ directory: String) throws {
        let files = FileManager.default
        if files.fileExists(atPath: directory) { try files.removeItem(atPath: directory) }
        try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// On a partition applier's thread, after each record it applied: asks for a rebuild from
    /// the stream's start when a new meter's backfill needs records from before the snapshot
    /// the engine started from; captures and queues a snapshot when one is due.
    private func afterApply(_ partition: Int, engine: MeterEngine, control: ReplicaControl, sequence: UInt64,
                            result: Result<ReplicatedReply, EngineError>) -> String? {
        if control.fromSnapshot, case .success(.meter(let meter)) = result, engine.backfillNeedsEarlierLog(meter) {
            control.rebuildFromStart = true
            return "meter \(meter.id), created at stream sequence \(sequence), backfills events from before the snapshot this engine started from"
        }
        if control.schedule.passed(applied: true) { capture(partition, engine: engine, control: control, sequence: sequence) }
        return nil
    }

    /// Captures the partition engine's state (after stream sequence `sequence`) and queues it
    /// for publishing (on the applier's thread, between two records).
    private func capture(_ partition: Int, engine: MeterEngine, control: ReplicaControl, sequence: UInt64) {
        guard let snapshots = condition.withLock({ self.snapshots }) else { return }
        if case .success(let captured?) = Self.wait({ engine.captureSnapshot(completion: $0) }) {
            snapshots.enqueue(.partition(partition), streamSequence: sequence, snapshot: captured)
            control.schedule.taken()
        }
    }

    /// Stops `replica`'s applier and publishes its engine's state (before its lease is given
    /// back), unless nothing was applied since the snapshot it started from or last published.
    private func publishFinalSnapshot(_ partition: Int, _ replica: Replica) {
        replica.applier.stop()
        guard replica.applier.haltReason == nil, replica.control.schedule.recordsSince > 0 || replica.control.schedule.skippedSince > 0,
              let snapshots = condition.withLock({ self.snapshots }) else { return }
        let through = replica.applier.appliedThrough
        if case .success(let captured?) = Self.wait({ replica.applier.engine.captureSnapshot(completion: $0) }) {
            // Two attempts at most: the lease thread waits meanwhile (its renewals too).
            if case .success = snapshots.publish(.partition(partition), streamSequence: through, snapshot: captured, attempts: 2) {
                replica.control.schedule.taken()
            }
        }
    }

    /// Calls `body` and waits for the value it hands its completion.
    private static func wait<Value: Sendable>(_ body: (@escaping @Sendable (Value) -> Void) -> Void) -> Value {
        let box = ValueBox<Value>()
        body { value in
            box.value = value
            box.done.signal()
        }
        box.done.wait()
        return box.value!
    }

    private func stopReplica(_ partition: Int, _ replica: Replica, reason: String) async {
        replica.applier.stop()
        log.failWaiters(subject: log.partitionSubject(partition), reason: reason)
        await replica.applier.engine.shutdown()
        try? FileManager.default.removeItem(atPath: replica.applier.engine.options.dataDirectory)
        print("meterd: cluster node \(log.options.nodeName) stopped partition \(partition) (\(reason))")
        fflush(nil)
        logger.info("stopped partition", metadata: ["partition": "\(partition)", "reason": "\(reason)"])
    }

    /// Runs `body` to completion from a plain thread.
    private static func blocking(_ body: @escaping @Sendable () async -> Void) {
        let done = DispatchSemaphore(value: 0)
        Task {
            await body()
            done.signal()
        }
        done.wait()
    }
}

/// A partition engine's snapshot schedule, touched by its applier's thread (and by the lease
/// thread once that applier stopped).
private final class ReplicaControl: @unchecked Sendable {
    /// The engine started from a shared snapshot (not from the stream's start).
    let fromSnapshot: Bool
    /// When its next snapshot is due.
    let schedule: SnapshotSchedule
    /// Set by the applier: rebuild this partition from the stream's start.
    var rebuildFromStart = false

    init(fromSnapshot: Bool, schedule: SnapshotSchedule) {
        self.fromSnapshot = fromSnapshot
        self.schedule = schedule
    }
}

/// A partition that cannot be rebuilt because the stream was trimmed.
private struct TrimmedStreamError: Error {
    let description: String
}

/// Carries one value from a completion to a waiting thread.
private final class ValueBox<Value>: @unchecked Sendable {
    var value: Value?
    let done = DispatchSemaphore(value: 0)
}
#endif
