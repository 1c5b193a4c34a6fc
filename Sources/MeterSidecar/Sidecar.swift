import Foundation
import Logging
import MeterClient
import MeterLog
import MeterProto
import MeterWire
import MeterWireServer
import NIOCore
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
    /// TLS to meterd over TCP (its CA, and a client certificate for mutual TLS).
    public var upstreamTLS: MeterClientTLS?
    public var forwarder = ForwarderOptions()
    /// How long SIGTERM may spend sending what is spooled before exiting anyway.
    public var shutdownTimeout: Duration = .seconds(10)
    /// Limits announced to the sidecar's own clients.
    public var limits = WireLimits()
    /// Most open client connections; more are answered with GOAWAY and closed.
    public var maximumConnections = 256
    /// A client must finish its preface and handshake within this time.
    public var handshakeTimeout: Duration = .seconds(10)
    /// A client connection with no traffic for this long is closed (GOAWAY "idle timeout").
    public var idleTimeout: Duration = .seconds(300)

    public init(listenPath: String, upstream: MeterAddress, spoolDirectory: String) {
        self.listenPath = listenPath
        self.upstream = upstream
        self.spoolDirectory = spoolDirectory
    }

    public var resolvedDeadLetterPath: String { deadLetterPath ?? spoolDirectory + "/dead-letter.ndjson" }

    /// The wire-server settings of the sidecar's listener: its Unix socket only (no TCP), its
    /// limits and timeouts, and only its own tenant admitted at the handshake.
    var server: ServerConfiguration {
        var server = ServerConfiguration()
        server.unixSocketPath = listenPath
        server.tcpHost = nil
        server.limits = limits
        server.maximumConnections = maximumConnections
        server.handshakeTimeout = handshakeTimeout
        server.idleTimeout = idleTimeout
        server.serverVersion = "meter-sidecar \(Sidecar.version)"
        server.tenantAdmission = .only(tenantId, server: "meter-sidecar")
        return server
    }
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
    let startedAt = ContinuousClock.now
    private let idPrefix: String
    private let idCounter = Atomic<UInt64>(0)
    /// The listener, made at `start()` (its handlers need the sidecar).
    private let server = Mutex<WireServer?>(nil)
    private let tasks = Mutex<(run: Task<Void, Never>?, checkpointer: Task<Void, Never>?)>((nil, nil))
    private let persisted: Mutex<UInt64>
    private let threads: Int
    private let logger: Logger
    private let checkpointLock = NSLock()

    /// Opens the spool (recovering unsent events) and the forwarder; nothing listens yet.
    public init(configuration: SidecarConfiguration, threads: Int = 1, logger: Logger = Logger(label: "meter-sidecar")) throws {
        self.configuration = configuration
        self.logger = logger
        let (spool, unsent, forwardedThrough, recovery) = try Spool.open(directory: configuration.spoolDirectory, maximumBytes: configuration.maximumSpoolBytes)
        self.spool = spool
        self.recovery = recovery
        recoveredEvents = unsent.reduce(0) { $0 + $1.events.count }
        persisted = Mutex(forwardedThrough)
        let upstream = Upstream(address: configuration.upstream, tenantId: configuration.tenantId, credential: configuration.credential, tls: configuration.upstreamTLS)
        let deadLetters = DeadLetterFile(path: configuration.resolvedDeadLetterPath)
        self.upstream = upstream
        self.deadLetters = deadLetters
        let forwarder = Forwarder(options: configuration.forwarder, upstream: upstream, deadLetters: deadLetters, forwardedThrough: forwardedThrough)
        forwarder.enqueue(unsent)
        self.forwarder = forwarder
        self.threads = threads
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

        var router = Router()
        register(with: &router)
        let server = WireServer(configuration: configuration.server, router: router, threads: threads, logger: logger)
        self.server.withLock { $0 = server }
        _ = try await server.start()
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
        // Clients get GOAWAY once their in-flight requests are answered; at most 2 s. The
        // socket file is removed.
        await server.withLock { $0 }?.shutdown(timeout: .seconds(2))
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
}
