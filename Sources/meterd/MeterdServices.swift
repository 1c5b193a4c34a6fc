import Foundation
import Logging
import MeterEngine
import MeterHTTP
import MeterOperations
import MeterServer
import MeterWireServer
import NIOConcurrencyHelpers
import NIOSSL
import Prometheus
import ServiceLifecycle

/// Why meterd could not start: printed (logged) without a usage banner, exit code 2.
enum StartupFailure: Error, CustomStringConvertible {
    case cannotOpen(dataDirectory: String, reason: String)
    case cannotListen(reason: String)

    var description: String {
        switch self {
        case .cannotOpen(let dataDirectory, let reason): return "cannot open \(dataDirectory): \(reason)"
        case .cannotListen(let reason): return "cannot listen: \(reason)"
        }
    }
}

/// The engine once recovery opened it, handed from the engine service to the services that
/// need it. The ServiceGroup starts every service at once (it has no notion of "ready"), and
/// the group itself is running, with its SIGTERM/SIGINT handling, before recovery starts, so
/// a signal during a long recovery is a graceful shutdown right after it, never lost.
final class EngineHandle: Sendable {
    private enum State {
        case opening([CheckedContinuation<Result<MeterEngine, StartupFailure>, Never>])
        case done(Result<MeterEngine, StartupFailure>)
    }

    private let state = NIOLockedValueBox(State.opening([]))

    /// The engine if it is open (for scrapes), without waiting.
    var current: MeterEngine? {
        state.withLockedValue { if case .done(.success(let engine)) = $0 { engine } else { nil } }
    }

    /// Waits until the engine is open; throws the engine service's own failure when opening
    /// failed (so whichever service the group hears from first, meterd reports the cause).
    func engine() async throws(StartupFailure) -> MeterEngine {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<MeterEngine, StartupFailure>, Never>) in
            let ready: Result<MeterEngine, StartupFailure>? = state.withLockedValue { state in
                switch state {
                case .opening(var waiting):
                    waiting.append(continuation)
                    state = .opening(waiting)
                    return nil
                case .done(let result): return result
                }
            }
            if let ready { continuation.resume(returning: ready) }
        }
        return try result.get()
    }

    func resolve(_ result: Result<MeterEngine, StartupFailure>) {
        let waiting = state.withLockedValue { state -> [CheckedContinuation<Result<MeterEngine, StartupFailure>, Never>] in
            guard case .opening(let waiting) = state else { return [] }
            state = .done(result)
            return waiting
        }
        for continuation in waiting { continuation.resume(returning: result) }
    }
}

/// Opens the engine (recovery), reports what recovery found, and on graceful shutdown stops
/// it: the queue is finished and fsynced, the final snapshot written, the log closed. It is
/// before the server in the ServiceGroup, so it is shut down after the server drained.
struct EngineService: Service {
    let options: EngineOptions
    let handle: EngineHandle
    let logger: Logger

    func run() async throws {
        let engine: MeterEngine
        do {
            engine = try await Self.open(options)
        } catch {
            let failure = StartupFailure.cannotOpen(dataDirectory: options.dataDirectory, reason: "\(error)")
            handle.resolve(.failure(failure))
            throw failure
        }
        report(engine.recovery)
        handle.resolve(.success(engine))
        // Returns on graceful shutdown; throws when cancelled (another service failed): both stop the engine.
        try? await gracefulShutdown()
        logger.info("engine shutting down: finishing queued work and writing the final snapshot")
        await engine.shutdown()
        let status = engine.currentStatus()
        logger.info("engine stopped", metadata: [
            "last_applied_sequence": "\(status.lastAppliedSequence)",
            "snapshot_sequence": "\(status.snapshotSequence)",
        ])
    }

    /// Recovery reads the whole log; it runs on a thread of its own, not on the concurrency pool.
    private static func open(_ options: EngineOptions) async throws -> MeterEngine {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try MeterEngine.open(options: options) }) }
            thread.name = "meterd-recovery"
            thread.start()
        }
    }

    /// The recovery line and each damage line stay on standard output (scripts and tests read
    /// them before "listening on"), and are logged with their numbers as metadata.
    private func report(_ recovery: EngineRecoveryReport) {
        print("meterd: \(recovery)")
        var metadata: Logger.Metadata = [
            "snapshot_sequence": "\(recovery.snapshotSequence)",
            "replayed_records": "\(recovery.replayedRecords)",
            "duration_ms": "\(recovery.durationMilliseconds)",
            "log_clean": "\(recovery.log.isClean)",
        ]
        if !recovery.skippedSnapshots.isEmpty { metadata["skipped_snapshots"] = .array(recovery.skippedSnapshots.map { .string($0) }) }
        logger.info("recovered", metadata: metadata)
        for problem in recovery.problems {
            print("meterd: \(problem)")
            if problem.hasPrefix("ERROR") {
                logger.error("recovery: \(problem)", metadata: ["data_directory": "\(options.dataDirectory)"])
            } else {
                logger.warning("recovery: \(problem)", metadata: ["data_directory": "\(options.dataDirectory)"])
            }
        }
        fflush(nil)
    }
}

/// The wire server as a service: waits for the engine, binds, says where it listens (the
/// `meterd: listening on ...` line on standard output that scripts wait for), serves until
/// graceful shutdown, then stops accepting and drains (MeterServer.run).
struct ServerService: Service {
    let handle: EngineHandle
    let configuration: ServerConfiguration
    let access: AccessSettings
    let durability: Durability
    let dataDirectory: String
    /// Receives the server's key store for the HTTP listener.
    var keys = KeyStoreHandle()
    let logger: Logger
    /// Told every ingest request's events and results (the HTTP console's event debugger).
    var ingestObserver: IngestObserver? = nil
    /// A new data directory gets a bootstrap admin key (not in cluster mode: every start is new there).
    var createsBootstrapKey = true
    /// The webhook dispatcher GetWebhookStatus reports on (set by WebhookService).
    var webhooks: WebhookStatusSource? = nil
    /// Partitioned cluster mode: the engines of the event partitions this node holds.
    var partitions: (any PartitionedEngines)? = nil
    /// The cluster's partition count.
    var partitionCount = 0
    /// This node's name in the client name of its forwarding connections.
    var forwardingName = "meterd"
    /// TLS of forwarding connections to owners on TCP.
    var forwardingTLS: ForwardingTLS? = nil
    /// Cluster mode: keys applied from the replicated log, for the server's key store.
    var keyRelay: ReplicatedKeyRelay? = nil

    func run() async throws {
        let engine = try await handle.engine()
        do {
            if createsBootstrapKey, let path = try await BootstrapKey.createIfNew(engine: engine, dataDirectory: dataDirectory) {
                print("meterd: new data directory: bootstrap admin key of tenant default written to \(path) (mode 0600)")
                fflush(nil)
                logger.notice("bootstrap admin key written", metadata: ["path": "\(path)", "tenant": "default"])
            }
        } catch {
            throw StartupFailure.cannotOpen(dataDirectory: dataDirectory, reason: "cannot create the bootstrap admin key: \(error)")
        }
        // Forwarding connections present the cluster credential when the node has the secret.
        let credential = access.configuration.clusterSecrets.first.map { ClusterCredential.credential(secret: $0) } ?? ""
        let cluster = partitions.map { ClusterAccess(engine: engine, partitions: $0, partitionCount: partitionCount, nodeName: forwardingName,
                                                     credential: credential, tls: forwardingTLS) }
        let server = MeterServer(engine: engine, configuration: configuration, access: access, logger: logger, ingestObserver: ingestObserver,
                                 webhooks: webhooks, cluster: cluster)
        keyRelay?.attach(server.authenticator.keys)
        do {
            _ = try await server.start()
        } catch {
            await server.shutdown()
            throw StartupFailure.cannotListen(reason: "\(error)")
        }
        keys.resolve((server.authenticator.keys, server.quotas, server.cluster))
        try await server.run { [logger, dataDirectory, durability] endpoints in
            let addresses = endpoints.map(\.description).joined(separator: " and ")
            print("meterd: listening on \(addresses) (data \(dataDirectory), durability \(durability))")
            fflush(nil)
            logger.info("started", metadata: [
                "listening": .array(endpoints.map { .string($0.description) }),
                "data_directory": "\(dataDirectory)",
                "durability": "\(durability)",
                "version": "\(configuration.serverVersion)",
                "pid": "\(getpid())",
            ])
        }
        logger.info("server stopped accepting and drained")
    }
}

/// Turns the engine's events into log lines with their numbers as metadata. Runs on the
/// writer thread: one formatted write to standard error each.
enum EngineEventLog {
    static func log(_ event: EngineEvent, to logger: Logger) {
        switch event {
        case .snapshotWritten(let sequence, let bytes, let durationMilliseconds):
            logger.info("snapshot written", metadata: ["sequence": "\(sequence)", "bytes": "\(bytes)", "duration_ms": "\(durationMilliseconds)"])
        case .snapshotFailed(let sequence, let message):
            logger.error("snapshot failed; the log still holds every record", metadata: ["sequence": "\(sequence)", "reason": "\(message)"])
        case .retentionDeleted(let segments, let beforeSequence):
            logger.info("retention deleted log segments", metadata: ["segments": "\(segments)", "before_sequence": "\(beforeSequence)"])
        case .retentionFailed(let message):
            logger.warning("retention could not delete segments", metadata: ["reason": "\(message)"])
        case .failed(let message):
            logger.critical("engine failed: writes are refused until restart", metadata: ["reason": "\(message)"])
        }
    }
}

/// Hands the wire server's key store and tenant quotas to the HTTP listener once the server
/// loaded the keys, so both protocols check the same keys and fill the same quota buckets (and
/// in cluster mode route events and usage to partitions the same way).
final class KeyStoreHandle: Sendable {
    typealias Access = (keys: KeyStore, quotas: TenantQuotas, cluster: ClusterAccess?)
    private let stream: AsyncStream<Access>
    private let continuation: AsyncStream<Access>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Access.self, bufferingPolicy: .bufferingNewest(1))
    }

    func resolve(_ access: Access) {
        continuation.yield(access)
        continuation.finish()
    }

    /// The key store and quotas; nil when the wait was cancelled (the group is stopping).
    func keys() async -> Access? {
        var iterator = stream.makeAsyncIterator()
        return await iterator.next()
    }
}

/// The HTTP listener (JSON API, console, /metrics) as a service: waits for the engine and the
/// wire server's keys, then serves until graceful shutdown. After the wire server in the
/// group, so it stops first. Every request needs an API key (Authorization: Bearer).
struct HTTPService: Service {
    let handle: EngineHandle
    let keys: KeyStoreHandle
    let host: String
    let port: Int
    let maximumBatchEvents: Int
    let metrics: (registry: PrometheusCollectorRegistry, beforeScrape: @Sendable () async -> Void)?
    let recentEvents: RecentEventLog
    /// How long a refused API key waits before its 401 (the handshake's `--refused-handshake-delay-ms`).
    let refusalDelay: Duration
    /// The TCP listener's TLS: when set, HTTP serves HTTPS with the same certificate and client CA.
    let tls: ServerTLS?
    /// The webhook dispatcher `GET /api/v1/webhooks` reports on.
    var webhooks: WebhookStatusSource? = nil
    let logger: Logger

    func run() async throws {
        let tlsConfiguration: TLSConfiguration?
        do {
            tlsConfiguration = try tls?.makeConfiguration()
        } catch {
            throw StartupFailure.cannotListen(reason: "http: \(error)")
        }
        let engine = try await handle.engine()
        guard let access = await keys.keys() else { return }
        var environment = MeterHTTPEnvironment(engine: engine, verifier: KeyStoreVerifier(keys: access.keys), recentEvents: recentEvents, maximumBatchEvents: maximumBatchEvents,
                                              metrics: self.metrics == nil ? nil : ServerMetrics(), quotas: access.quotas)
        environment.refusalDelay = refusalDelay
        environment.webhooks = webhooks
        environment.cluster = access.cluster
        let scheme = tlsConfiguration == nil ? "http" : "https"
        let service = MeterHTTPService(host: host, port: port, environment: environment, logger: logger, tls: tlsConfiguration,
                                       metrics: metrics) { [logger] host, port in
            print("meterd: http on \(scheme)://\(host):\(port)/ (API /api/v1, console /console)")
            fflush(nil)
            logger.info("http listening", metadata: ["address": "\(scheme)://\(host):\(port)/"])
        }
        try await service.run()
    }
}

/// Posts threshold notifications to the configured webhook (`WebhookDispatcher`) until graceful
/// shutdown. An unreadable outbox file stops meterd at start with the file's name.
struct WebhookService: Service {
    let handle: EngineHandle
    let configuration: WebhookConfiguration
    let source: WebhookStatusSource
    let logger: Logger

    func run() async throws {
        let engine = try await handle.engine()
        let dispatcher: WebhookDispatcher
        do {
            dispatcher = try WebhookDispatcher(engine: engine, configuration: configuration, logger: logger)
        } catch {
            throw StartupFailure.cannotOpen(dataDirectory: configuration.outboxPath, reason: "\(error)")
        }
        source.set(dispatcher)
        logger.info("webhook delivery on", metadata: ["url": "\(configuration.url)", "delivered_through": "\(dispatcher.status.deliveredThrough)"])
        let task = Task { await dispatcher.run() }
        await withGracefulShutdownHandler {
            await task.value
        } onGracefulShutdown: {
            task.cancel()
        }
    }
}
