// Built with the Cluster trait only (`swift build --traits Cluster`, needs libnats-dev).
#if Cluster
import Foundation
import Logging
import MeterCore
import MeterEngine
import MeterLog

/// Applies the stream to one engine, in stream order, from its start: the meta subject (meters
/// and keys) and, for a partition's engine, that partition's subject; other subjects are
/// skipped. One thread with an ordered consumer of the whole stream. Each record is applied
/// with the engine's clock (`clock`) at the record's stream timestamp, so that every node that
/// applies the same subjects decides the same (docs/cluster.md).
///
/// Writes of this node on the applier's `homeSubject` are answered through `ClusterLog` once
/// applied here. A record that cannot be applied (unknown format, does not decode, the engine
/// failed) stops this applier for good (`haltReason`) rather than skip it and diverge.
final class LogApplier: @unchecked Sendable {
    let name: String
    let engine: MeterEngine
    let clock: LogClock
    /// The subject whose waiting writes this applier answers (meta, or its partition's).
    let homeSubject: String
    private let metaSubject: String
    private let logger: Logger

    private let condition = NSCondition()
    private var appliedSequence: UInt64 = 0
    private var stopping = false
    private var running = false
    private var halted: String?
    /// Told once, on the applier's thread, when applied through `catchUpTo`.
    private var catchUpTo: UInt64 = 0
    private var onCaughtUp: (@Sendable () -> Void)?
    /// Records of the meta and home subjects applied by this applier (skipped subjects not counted).
    private var appliedRecordCount: UInt64 = 0
    /// Called on the applier's thread after each record of the meta or home subject was applied
    /// (with its stream sequence, subject and what applying it gave), before the next; returning a reason stops the
    /// applier (`haltReason`). `ClusterNode` captures snapshots here.
    private let afterApply: (@Sendable (_ sequence: UInt64, _ subject: String, _ result: Result<ReplicatedReply, EngineError>) -> String?)?
    /// Called on the applier's thread after each message of another subject was passed over
    /// (with its stream sequence): the engine's state now covers it too.
    private let afterSkip: (@Sendable (_ sequence: UInt64) -> Void)?

    init(name: String, engine: MeterEngine, clock: LogClock, homeSubject: String, metaSubject: String, logger: Logger,
         afterApply: (@Sendable (_ sequence: UInt64, _ subject: String, _ result: Result<ReplicatedReply, EngineError>) -> String?)? = nil,
         afterSkip: (@Sendable (_ sequence: UInt64) -> Void)? = nil) {
        self.afterApply = afterApply
        self.afterSkip = afterSkip
        self.name = name
        self.engine = engine
        self.clock = clock
        self.homeSubject = homeSubject
        self.metaSubject = metaSubject
        self.logger = logger
    }

    /// The stream sequence applied through (skipped subjects included).
    var appliedThrough: UInt64 { condition.withLock { appliedSequence } }
    /// Why this applier stopped for good, if it did.
    var haltReason: String? { condition.withLock { halted } }
    /// Records of the meta and home subjects applied so far (from a snapshot: only those after it).
    var appliedRecords: UInt64 { condition.withLock { appliedRecordCount } }

    /// Starts the applier's thread on `connection`; answers writes through `log`. `onCaughtUp`
    /// runs once, when applied through `catchUpTo`. `startAfter`: the stream sequence the
    /// engine's state already covers (a snapshot's); applying starts after it.
    func start(connection: JetStreamConnection, log: ClusterLog, streamName: String, subjectPrefix: String,
               startAfter: UInt64 = 0, catchUpTo: UInt64 = 0, onCaughtUp: (@Sendable () -> Void)? = nil) {
        condition.withLock {
            running = true
            appliedSequence = startAfter
            self.catchUpTo = catchUpTo
            self.onCaughtUp = onCaughtUp
        }
        let thread = Thread { [self] in
            run(connection, log: log, streamName: streamName, subject: "\(subjectPrefix).>")
            condition.withLock {
                running = false
                condition.broadcast()
            }
        }
        thread.name = "meterd-apply-\(name)"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Stops the thread and waits for it (a record being applied is finished first).
    func stop() {
        condition.lock()
        stopping = true
        while running { condition.wait() }
        condition.unlock()
    }

    /// Waits (polling every 10 ms) until applied through `sequence`; throws if this applier
    /// halted or is stopping.
    func waitUntilApplied(_ sequence: UInt64) throws(NATSError) {
        while true {
            let (applied, halted, stopping) = condition.withLock { (appliedSequence, self.halted, self.stopping) }
            if applied >= sequence { return }
            if let halted { throw NATSError(message: "the cluster log applier \(name) stopped: \(halted)") }
            if stopping { throw NATSError(message: "stopping before catching up with the cluster log") }
            usleep(10_000)
        }
    }

    private func run(_ connection: JetStreamConnection, log: ClusterLog, streamName: String, subject: String) {
        var subscription: OrderedSubscription?
        while !condition.withLock({ stopping }) {
            announceIfCaughtUp()
            do throws(NATSError) {
                let applied = appliedThrough
                if subscription == nil {
                    subscription = try connection.subscribeOrdered(stream: streamName, subject: subject, startSequence: applied + 1)
                }
                guard let message = try subscription?.next(timeoutMilliseconds: 250) else { continue }
                if message.streamSequence <= applied { continue }
                if message.streamSequence != applied + 1 {
                    // Trimmed past what this applier applied (docs/cluster.md, "Trimming"):
                    // the records it misses are gone; stop rather than skip them.
                    if let first = try? connection.sequences(stream: streamName).first, applied + 1 < first {
                        let why = "the stream was trimmed below sequence \(first), past the \(applied) records this engine applied; restart the node "
                            + "(it starts from the newest snapshots)"
                        logger.critical("cluster log applier stopped", metadata: ["applier": "\(name)", "reason": "\(why)"])
                        condition.withLock { halted = why }
                        if homeSubject == metaSubject { log.halt(why) } else { log.failWaiters(subject: homeSubject, reason: why) }
                        return
                    }
                    logger.warning("gap in the cluster log's delivery: subscribing again", metadata: [
                        "applier": "\(name)", "expected": "\(applied + 1)", "received": "\(message.streamSequence)"])
                    subscription = nil
                    continue
                }
                guard message.subject == metaSubject || message.subject == homeSubject else {
                    condition.withLock { appliedSequence = message.streamSequence }
                    afterSkip?(message.streamSequence)
                    continue
                }
                let effects = message.subject == homeSubject ? message.messageId.flatMap { log.effects(messageId: $0) } : nil
                let result = apply(message, effects: effects)
                if case .failure(.unavailable(let reason)) = result {
                    let why = "cannot apply record \(message.streamSequence) of the cluster log: \(reason)"
                    logger.critical("cluster log applier stopped: this engine no longer applies the log", metadata: ["applier": "\(name)", "reason": "\(why)"])
                    condition.withLock { halted = why }
                    if homeSubject == metaSubject { log.halt(why) } else { log.failWaiters(subject: homeSubject, reason: why) }
                    return
                }
                condition.withLock {
                    appliedSequence = message.streamSequence
                    appliedRecordCount += 1
                }
                if message.subject == homeSubject, let messageId = message.messageId { log.applied(messageId: messageId, result: result) }
                if let afterApply, let stop = afterApply(message.streamSequence, message.subject, result) {
                    logger.warning("cluster log applier stopped", metadata: ["applier": "\(name)", "reason": "\(stop)"])
                    condition.withLock { halted = stop }
                    log.failWaiters(subject: homeSubject, reason: stop)
                    return
                }
            } catch {
                logger.warning("reading the cluster log failed; subscribing again", metadata: ["applier": "\(name)", "error": "\(error)"])
                subscription = nil
                // Back off while the NATS client reconnects.
                usleep(200_000)
            }
        }
    }

    /// Decodes one message and applies it with the engine's clock at its stream timestamp.
    private func apply(_ message: OrderedSubscription.Message, effects: EntitlementEffects?) -> Result<ReplicatedReply, EngineError> {
        guard message.data.count >= 2 else { return .failure(.unavailable("a message of \(message.data.count) bytes is not a log record")) }
        guard message.data[0] == ClusterLog.messageFormatVersion else {
            return .failure(.unavailable("message format version \(message.data[0]) is not the version \(ClusterLog.messageFormatVersion) this meterd reads; upgrade this node"))
        }
        let record: StateRecord
        do {
            record = try RecordCodec.decode(type: message.data[1], payload: Array(message.data[2...]))
        } catch {
            return .failure(.unavailable("record type \(message.data[1]) does not decode: \(error)"))
        }
        clock.set(message.timestampNanoseconds / 1_000_000)
        let box = ReplyBox()
        engine.applyReplicated(record, effects: effects) { result in
            box.result = result
            box.done.signal()
        }
        box.done.wait()
        return box.result!
    }
}

extension LogApplier {
    /// Calls `onCaughtUp` (once) when applied through `catchUpTo`.
    private func announceIfCaughtUp() {
        let callback: (@Sendable () -> Void)? = condition.withLock {
            guard let callback = onCaughtUp, appliedSequence >= catchUpTo else { return nil }
            onCaughtUp = nil
            return callback
        }
        callback?()
    }
}

/// Carries one apply result from the writer thread to the waiting applier thread.
private final class ReplyBox: @unchecked Sendable {
    var result: Result<ReplicatedReply, EngineError>?
    let done = DispatchSemaphore(value: 0)
}
#endif
