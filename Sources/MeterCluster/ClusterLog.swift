// Built with the Cluster trait only (`swift build --traits Cluster`, needs libnats-dev).
#if Cluster
import Foundation
import Logging
import MeterCore
import MeterEngine
import MeterLog

/// Cluster mode's replicated log (docs/cluster.md): a JetStream stream on three NATS servers
/// (R3) that every meterd node applies in order, whole, with its own engine.
///
/// A write of this node (`submit`, called by the engine) is published as one message, the log
/// record a single node would store, with a message id unique to this write: publisher threads
/// wait for the stream's acknowledgement (the durability point) and retry a publish that was
/// not acknowledged with the same id, which JetStream drops as a duplicate if the first one
/// was stored. The consumer thread reads the stream from its start with an ordered consumer
/// and hands each record to `MeterEngine.applyReplicated` with the engine's clock set to the
/// record's stream timestamp: every node screens (validation, dedup window, exactly-once
/// index) the same records in the same order at the same times, so every node decides the
/// same. The write is answered once it is acknowledged and applied here, with what applying it
/// gave.
public final class ClusterLog: ReplicatedLog, @unchecked Sendable {
    /// Version of the message layout: [version][record type][record payload].
    public static let messageFormatVersion: UInt8 = 1

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
    private var appliedSequence: UInt64 = 0
    private var runningThreads = 0
    private var connection: JetStreamConnection?

    private struct Publish {
        var messageId: String
        var subject: String
        var data: [UInt8]
    }

    private struct Waiter {
        var completion: @Sendable (Result<ReplicatedReply, EngineError>) -> Void
        var acknowledged = false
        var reply: Result<ReplicatedReply, EngineError>?
    }

    public init(options: ClusterOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// The stream sequence this node has applied through.
    public var appliedThrough: UInt64 { condition.withLock { appliedSequence } }

    // MARK: Writes

    public func submit(_ record: LogRecord, partitionKey: String?,
                       completion: @escaping @Sendable (Result<ReplicatedReply, EngineError>) -> Void) {
        var data: [UInt8] = [Self.messageFormatVersion, record.type]
        data.append(contentsOf: record.payload)
        let subject = partitionKey.map { "\(options.subjectPrefix).p\(Self.partition(of: $0, partitions: options.partitions))" }
            ?? "\(options.subjectPrefix).meta"
        condition.lock()
        if stopping || halted != nil {
            let reason = halted ?? "meterd is shutting down"
            condition.unlock()
            completion(.failure(.unavailable(reason)))
            return
        }
        published += 1
        let messageId = "\(options.nodeName)-\(runId)-\(published)"
        waiters[messageId] = Waiter(completion: completion)
        queue.append(Publish(messageId: messageId, subject: subject, data: data))
        condition.signal()
        condition.unlock()
    }

    /// The partition of a tenant's events: FNV-1a of its id, modulo `partitions`. Fixed by the
    /// bytes of the id, so every node and every version agrees.
    public static func partition(of key: String, partitions: Int) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int(hash % UInt64(max(1, partitions)))
    }

    // MARK: Life cycle

    /// Connects to NATS, creates the stream when missing, and starts the publishers and the
    /// consumer that applies the whole stream from its start to `engine`. Returns the stream's
    /// last sequence at start: once `appliedThrough` reaches it, the node has caught up.
    @discardableResult
    public func start(engine: MeterEngine) throws(NATSError) -> UInt64 {
        let deadline = Date(timeIntervalSinceNow: TimeInterval(options.startTimeoutSeconds))
        let connection = try JetStreamConnection(servers: options.servers, name: "meterd-\(options.nodeName)", deadline: deadline)
        try connection.ensureStream(name: options.streamName, subjects: ["\(options.subjectPrefix).>"], replicas: options.replicas,
                                    duplicateWindowSeconds: options.duplicateWindowSeconds, deadline: deadline)
        condition.withLock {
            self.connection = connection
            runningThreads = options.publisherThreads + 1
        }
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
        startThread(name: "meterd-consumer") { [self] in runConsumer(connection, engine: engine) }
        return lastSequence
    }

    /// Why the consumer stopped applying for good, if it did.
    public var haltReason: String? { condition.withLock { halted } }

    /// Waits (polling every 10 ms) until this node has applied through `sequence`; throws if
    /// the consumer halted or the node is stopping.
    public func waitUntilApplied(_ sequence: UInt64) throws(NATSError) {
        while true {
            let (applied, halted, stopping) = condition.withLock { (appliedSequence, self.halted, self.stopping) }
            if applied >= sequence { return }
            if let halted { throw NATSError(message: "the cluster log consumer stopped: \(halted)") }
            if stopping { throw NATSError(message: "stopping before catching up with the cluster log") }
            usleep(10_000)
        }
    }

    /// Stops publishing and applying (before the engine shuts down); writes still waiting are
    /// answered UNAVAILABLE (the client retries them with the same event ids).
    public func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while runningThreads > 0 { condition.wait() }
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

    // MARK: Consumer

    private func runConsumer(_ connection: JetStreamConnection, engine: MeterEngine) {
        let subject = "\(options.subjectPrefix).>"
        var subscription: OrderedSubscription?
        while !condition.withLock({ stopping }) {
            do throws(NATSError) {
                let applied = appliedThrough
                if subscription == nil {
                    subscription = try connection.subscribeOrdered(stream: options.streamName, subject: subject, startSequence: applied + 1)
                }
                guard let message = try subscription?.next(timeoutMilliseconds: 250) else { continue }
                if message.streamSequence <= applied { continue }
                if message.streamSequence != applied + 1 {
                    logger.warning("gap in the cluster log's delivery: subscribing again", metadata: [
                        "expected": "\(applied + 1)", "received": "\(message.streamSequence)"])
                    subscription = nil
                    continue
                }
                let result = apply(message, engine: engine)
                if case .failure(.unavailable(let reason)) = result {
                    halt("cannot apply record \(message.streamSequence) of the cluster log: \(reason)")
                    return
                }
                condition.lock()
                appliedSequence = message.streamSequence
                var completion: (@Sendable (Result<ReplicatedReply, EngineError>) -> Void)?
                if let messageId = message.messageId, var waiter = waiters[messageId] {
                    if waiter.acknowledged {
                        waiters[messageId] = nil
                        completion = waiter.completion
                    } else {
                        waiter.reply = result
                        waiters[messageId] = waiter
                    }
                }
                condition.unlock()
                completion?(result)
            } catch {
                logger.warning("reading the cluster log failed; subscribing again", metadata: ["error": "\(error)"])
                subscription = nil
                // Back off while the NATS client reconnects.
                usleep(200_000)
            }
        }
    }

    /// Decodes one message and applies it with the engine's clock at its stream timestamp.
    private func apply(_ message: OrderedSubscription.Message, engine: MeterEngine) -> Result<ReplicatedReply, EngineError> {
        guard message.data.count >= 2 else { return .failure(.unavailable("a message of \(message.data.count) bytes is not a log record")) }
        guard message.data[0] == Self.messageFormatVersion else {
            return .failure(.unavailable("message format version \(message.data[0]) is not the version \(Self.messageFormatVersion) this meterd reads; upgrade this node"))
        }
        let record: StateRecord
        do {
            record = try RecordCodec.decode(type: message.data[1], payload: Array(message.data[2...]))
        } catch {
            return .failure(.unavailable("record type \(message.data[1]) does not decode: \(error)"))
        }
        clock.set(message.timestampNanoseconds / 1_000_000)
        let box = ReplyBox()
        engine.applyReplicated(record) { result in
            box.result = result
            box.done.signal()
        }
        box.done.wait()
        return box.result!
    }

    /// Stops applying for good (the node can no longer agree with the others) and answers
    /// every waiting write UNAVAILABLE.
    private func halt(_ reason: String) {
        logger.critical("cluster log consumer stopped: this node no longer applies the log", metadata: ["reason": "\(reason)"])
        condition.lock()
        halted = reason
        let orphans = waiters
        waiters.removeAll()
        queue.removeAll()
        condition.unlock()
        for waiter in orphans.values { waiter.completion(.failure(.unavailable(reason))) }
    }
}

/// Carries one apply result from the writer thread to the waiting consumer thread.
private final class ReplyBox: @unchecked Sendable {
    var result: Result<ReplicatedReply, EngineError>?
    let done = DispatchSemaphore(value: 0)
}
#endif
