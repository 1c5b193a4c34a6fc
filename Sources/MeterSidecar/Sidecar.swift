import Foundation
import MeterClient
import MeterLog
import MeterProto
import MeterWire
import NIOCore
import NIOPosix
import Synchronization

/// Where the sidecar listens, where it forwards to, and its limits (`meter-sidecar --help`).
public struct SidecarConfiguration: Sendable {
    /// Unix-domain socket the local service connects to.
    public var listenPath: String
    /// meterd's address (Unix socket or TCP).
    public var upstream: MeterAddress
    /// Directory of the spool (segment files and the `forwarded-through` checkpoint).
    public var spoolDirectory: String
    /// Most bytes of spool segment files; beyond that clients get RESOURCE_EXHAUSTED.
    public var maximumSpoolBytes = 1 << 30
    /// The dead-letter NDJSON file; default `<spool-dir>/dead-letter.ndjson`.
    public var deadLetterPath: String?
    /// The tenant every event is forwarded for (the sidecar's handshake with meterd).
    public var tenantId = "default"
    /// Credential for meterd's handshake.
    public var credential = ""
    public var forwarder = ForwarderOptions()
    /// How long SIGTERM may spend sending what is spooled before exiting anyway.
    public var shutdownTimeout: Duration = .seconds(10)
    /// Limits announced to the sidecar's own clients.
    public var limits = WireLimits()

    public init(listenPath: String, upstream: MeterAddress, spoolDirectory: String) {
        self.listenPath = listenPath
        self.upstream = upstream
        self.spoolDirectory = spoolDirectory
    }

    public var resolvedDeadLetterPath: String { deadLetterPath ?? spoolDirectory + "/dead-letter.ndjson" }
}

/// What the sidecar reports on Health.Check (as `key=value` pairs in the message) and in memory.
public struct SidecarStatus: Sendable, Equatable {
    /// Events accepted (spooled) and not yet acknowledged by meterd nor dead-lettered.
    public var spoolEvents: Int
    /// Bytes of spool segment files on disk.
    public var spoolBytes: Int
    /// Age of the oldest unsent event, from its acceptance by the sidecar; 0 when none.
    public var oldestUnsentMilliseconds: Int64
    /// IngestBatch calls meterd answered (since start).
    public var batchesSent: UInt64
    /// Failed attempts that were retried (since start).
    public var retries: UInt64
    /// Events written to the dead-letter file (since start).
    public var deadLetters: UInt64
    /// Events meterd acknowledged (accepted or duplicate, since start).
    public var eventsForwarded: UInt64
    /// Spool position up to which everything is done.
    public var forwardedThrough: UInt64
    /// Newest spool position.
    public var lastSpooled: UInt64
    public var upstreamConnected: Bool
    /// Spool write failure, if any (writes are refused until restart).
    public var spoolFailure: String?
    public var lastError: String

    /// `spool_events=0 spool_bytes=4096 oldest_unsent_ms=0 batches_sent=3 retries=0 dead_letters=1 ...`
    public var summary: String {
        var text = "spool_events=\(spoolEvents) spool_bytes=\(spoolBytes) oldest_unsent_ms=\(oldestUnsentMilliseconds) batches_sent=\(batchesSent) retries=\(retries) dead_letters=\(deadLetters) events_forwarded=\(eventsForwarded) forwarded_through=\(forwardedThrough) last_spooled=\(lastSpooled) upstream=\(upstreamConnected ? "connected" : "disconnected")"
        if let spoolFailure { text += " spool_failure=\(spoolFailure.replacingOccurrences(of: " ", with: "_"))" }
        return text
    }

    /// Parses `summary` text back into its pairs (for clients and tests).
    public static func pairs(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for word in text.split(separator: " ") {
            guard let equals = word.firstIndex(of: "=") else { continue }
            result[String(word[..<equals])] = String(word[word.index(after: equals)...])
        }
        return result
    }
}

/// meter-sidecar: accepts events on a local socket, acknowledges them once fsynced in its
/// spool, and forwards them to meterd in batches (see docs/sidecar.md in the report).
public final class Sidecar: Sendable {
    public static let version = "0.1.0"

    public let configuration: SidecarConfiguration
    /// Unsent events found in the spool at start.
    public let recoveredEvents: Int
    public let recovery: RecoveryReport
    let spool: Spool
    let forwarder: Forwarder
    let upstream: Upstream
    private let deadLetters: DeadLetterFile
    private let group: MultiThreadedEventLoopGroup
    private let startedAt = ContinuousClock.now
    private let idPrefix: String
    private let idCounter = Atomic<UInt64>(0)
    private let server = Mutex<ServerState>(ServerState())
    private let tasks = Mutex<(run: Task<Void, Never>?, checkpointer: Task<Void, Never>?)>((nil, nil))
    private let persisted: Mutex<UInt64>
    private let checkpointLock = NSLock()

    private struct ServerState {
        var listener: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var stopping = false
    }

    /// Opens the spool (recovering unsent events) and the forwarder; nothing listens yet.
    public init(configuration: SidecarConfiguration, threads: Int = 1) throws {
        self.configuration = configuration
        let (spool, unsent, forwardedThrough, recovery) = try Spool.open(directory: configuration.spoolDirectory, maximumBytes: configuration.maximumSpoolBytes)
        self.spool = spool
        self.recovery = recovery
        recoveredEvents = unsent.reduce(0) { $0 + $1.events.count }
        persisted = Mutex(forwardedThrough)
        let upstream = Upstream(address: configuration.upstream, tenantId: configuration.tenantId, credential: configuration.credential)
        let deadLetters = DeadLetterFile(path: configuration.resolvedDeadLetterPath)
        self.upstream = upstream
        self.deadLetters = deadLetters
        let forwarder = Forwarder(options: configuration.forwarder, upstream: upstream, deadLetters: deadLetters, forwardedThrough: forwardedThrough)
        forwarder.enqueue(unsent)
        self.forwarder = forwarder
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        var random = SystemRandomNumberGenerator()
        idPrefix = "sc-" + String(random.next() as UInt64, radix: 16) + String(random.next() as UInt32, radix: 16) + "-"
    }

    /// Starts the spool writer and the forwarder, and listens on the socket.
    public func start() async throws {
        let forwarder = forwarder
        spool.start { entries in forwarder.enqueue(entries) }
        let run = Task { await forwarder.run() }
        let checkpointer = Task { [self] in
            for await _ in forwarder.progress { persistForwardedPosition() }
        }
        tasks.withLock { $0 = (run, checkpointer) }

        try removeStaleSocket(at: configuration.listenPath)
        let limits = configuration.limits
        let tenantId = configuration.tenantId
        let handler: SidecarRequestHandler = { [self] method, payload in await handle(method: method, payload: payload) }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { [self] channel in
                let accepted = server.withLock { state -> Bool in
                    guard !state.stopping else { return false }
                    state.connections[ObjectIdentifier(channel)] = channel
                    return true
                }
                channel.closeFuture.whenComplete { [self] _ in
                    _ = server.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
                }
                return channel.eventLoop.makeCompletedFuture {
                    guard accepted else {
                        channel.close(promise: nil)
                        return
                    }
                    let operations = channel.pipeline.syncOperations
                    try operations.addHandler(MessageToByteHandler(FrameEncoder()))
                    try operations.addHandler(ByteToMessageHandler(
                        FrameDecoder(expectPreface: true, maximumFrameBytes: limits.maximumFrameBytes),
                        maximumBufferSize: 2 * limits.maximumFrameBytes + 64 * 1024))
                    try operations.addHandler(SidecarConnectionHandler(handler: handler, tenantId: tenantId, limits: limits))
                }
            }
        let previousMask = umask(0o177)
        defer { umask(previousMask) }
        let listener = try await bootstrap.bind(unixDomainSocketPath: configuration.listenPath, cleanupExistingSocketFile: false).get()
        server.withLock { $0.listener = listener }
    }

    /// Writes the forwarded position durably, then deletes the segments it covers.
    private func persistForwardedPosition() {
        checkpointLock.lock()
        defer { checkpointLock.unlock() }
        let target = forwarder.forwardedThrough
        guard target > persisted.withLock({ $0 }) else { return }
        do {
            try spool.checkpoint.write(target)
            persisted.withLock { $0 = target }
            try spool.trim(through: target)
        } catch {
            FileHandle.standardError.write(Data("meter-sidecar: cannot persist the forwarded position \(target): \(error)\n".utf8))
        }
    }

    public struct ShutdownSummary: Sendable {
        /// Whether everything spooled was forwarded before the deadline.
        public var drained: Bool
        /// Events left in the spool for the next start.
        public var unsentEvents: Int
    }

    /// Graceful shutdown: stop accepting (GOAWAY to clients after their in-flight requests),
    /// finish spool writes, send everything spooled within the timeout, persist the forwarded
    /// position. What could not be sent stays in the spool.
    public func shutdown() async -> ShutdownSummary {
        let (listener, connections) = server.withLock { state in
            state.stopping = true
            return (state.listener, Array(state.connections.values))
        }
        try? await listener?.close().get()
        for connection in connections { connection.pipeline.fireUserInboundEventTriggered(SidecarShutdownEvent()) }
        // Clients get GOAWAY once their in-flight requests are answered; at most 2 s.
        let timers = connections.map { connection in
            connection.eventLoop.scheduleTask(in: .seconds(2)) { connection.close(promise: nil) }
        }
        for connection in connections { try? await connection.closeFuture.get() }
        for timer in timers { timer.cancel() }
        unlink(configuration.listenPath)
        spool.stop()

        forwarder.flush()
        let (run, checkpointer) = tasks.withLock { $0 }
        let forwarder = forwarder
        let timeout = configuration.shutdownTimeout
        let drained = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await run?.value; return true }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            if !first { forwarder.abandon() }
            group.cancelAll()
            return first
        }
        forwarder.finishProgress()
        await checkpointer?.value
        persistForwardedPosition()
        await upstream.close()
        try? await group.shutdownGracefully()
        return ShutdownSummary(drained: drained, unsentEvents: forwarder.numbers.unsentEvents)
    }

    public func status() async -> SidecarStatus {
        let numbers = forwarder.numbers
        let spoolNumbers = spool.numbers
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return SidecarStatus(
            spoolEvents: numbers.unsentEvents,
            spoolBytes: spoolNumbers.diskBytes,
            oldestUnsentMilliseconds: numbers.oldestUnsentAcceptedAt.map { Swift.max(0, now - $0) } ?? 0,
            batchesSent: numbers.batchesSent,
            retries: numbers.retries,
            deadLetters: numbers.deadLetters,
            eventsForwarded: numbers.eventsForwarded,
            forwardedThrough: numbers.forwardedThrough,
            lastSpooled: spoolNumbers.lastSequence,
            upstreamConnected: await upstream.isConnected,
            spoolFailure: spoolNumbers.failure,
            lastError: numbers.lastError)
    }

    /// A fresh, unique event id for an event that came without one: a random per-process
    /// prefix and a counter. It is spooled with the event, so every resend carries it.
    func newEventId() -> String {
        idPrefix + String(idCounter.add(1, ordering: .relaxed).newValue)
    }

    // MARK: Requests

    func handle(method: UInt16, payload: ByteBuffer) async -> SidecarReply {
        switch method {
        case MethodID.ingest.rawValue:
            guard let request = try? ProtobufPayload.decode(Meterd_V1_IngestRequest.self, from: payload) else {
                return .failure(.invalidArgument, "the request does not decode as meterd.v1.IngestRequest")
            }
            switch await ingest([request.event]) {
            case .success(let response):
                var single = Meterd_V1_IngestResponse()
                single.result = response.results[0]
                return .success(single)
            case .failure(let reply):
                return reply
            }
        case MethodID.ingestBatch.rawValue:
            guard let request = try? ProtobufPayload.decode(Meterd_V1_IngestBatchRequest.self, from: payload) else {
                return .failure(.invalidArgument, "the request does not decode as meterd.v1.IngestBatchRequest")
            }
            guard request.events.count <= configuration.limits.maximumBatchEvents else {
                return .failure(.invalidArgument, "a batch holds at most \(configuration.limits.maximumBatchEvents) events, got \(request.events.count); split it", reason: "BATCH_TOO_LARGE")
            }
            switch await ingest(request.events) {
            case .success(let response): return .success(response)
            case .failure(let reply): return reply
            }
        case MethodID.healthCheck.rawValue:
            let status = await status()
            var response = Meterd_V1_HealthCheckResponse()
            response.status = status.spoolFailure == nil ? .serving : .notServing
            response.message = status.summary
            return .success(response)
        case MethodID.serverInfo.rawValue:
            let status = await status()
            let uptime = ContinuousClock.now - startedAt
            var response = Meterd_V1_ServerInfoResponse()
            response.version = "meter-sidecar \(Self.version)"
            response.uptimeMs = uptime.components.seconds * 1000 + uptime.components.attoseconds / 1_000_000_000_000_000
            response.durability = "fsync"
            response.lastAppliedSequence = status.lastSpooled
            response.firstRetainedSequence = status.forwardedThrough + 1
            response.failure = status.spoolFailure ?? ""
            response.groupCommits = status.batchesSent
            response.syncs = spool.numbers.syncs
            return .success(response)
        default:
            let name = MethodID(rawValue: method)?.description ?? "method \(method)"
            return .failure(.unimplemented, "meter-sidecar accepts only Ingest, IngestBatch, Health.Check and Health.ServerInfo; send \(name) to meterd directly")
        }
    }

    private func ingest(_ events: [Meterd_V1_Event]) async -> Result<Meterd_V1_IngestBatchResponse, SidecarReply> {
        var events = events
        for index in events.indices where events[index].eventID.isEmpty {
            events[index].eventID = newEventId()
        }
        let acceptedAt = Int64(Date().timeIntervalSince1970 * 1000)
        do throws(SpoolError) {
            _ = try await spool.append(events: events, acceptedAtMilliseconds: acceptedAt)
        } catch {
            switch error {
            case .full(let message): return .failure(.failure(.resourceExhausted, message))
            case .tooLarge(let message): return .failure(.failure(.invalidArgument, message))
            case .failed(let message): return .failure(.failure(.unavailable, message))
            case .stopped: return .failure(.failure(.unavailable, error.description))
            }
        }
        var response = Meterd_V1_IngestBatchResponse()
        var accepted = Meterd_V1_EventResult()
        accepted.status = .accepted
        response.results = Array(repeating: accepted, count: events.count)
        response.accepted = UInt32(events.count)
        return .success(response)
    }
}
