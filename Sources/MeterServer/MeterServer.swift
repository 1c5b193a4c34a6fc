import Foundation
import Logging
import MeterEngine
import MeterProto
import MeterWire
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// The front door: listens on a Unix-domain socket and on TCP at once (either can be off),
/// speaks the framed protocol of docs/protocol.md and hands every request to the engine.
///
/// Event loops only do socket I/O and framing; handlers run as tasks that await the engine,
/// whose writer thread does the fsyncs. Start with `start()`, stop with `shutdown()`; or run it
/// as a swift-service-lifecycle `Service` in a ServiceGroup: `run()` serves until graceful
/// shutdown (SIGTERM, SIGINT), then stops accepting and drains (see `shutdown`).
public final class MeterServer: Sendable, Service {
    public let configuration: ServerConfiguration
    private let engine: MeterEngine
    private let group: MultiThreadedEventLoopGroup
    private let router: Router
    private let state = NIOLockedValueBox(ServerState())
    private let metrics: ServerMetrics
    private let logger: Logger
    /// Decides who each connection is and what it may call (docs/security.md).
    public let authenticator: Authenticator

    private struct ServerState {
        var listeners: [Channel] = []
        var connections: [ObjectIdentifier: Channel] = [:]
        var stopping = false
        var endpoints: [Endpoint]?
        /// The socket file this server bound (and so may remove at shutdown): a server that
        /// failed to start must not remove the socket of the one that holds it.
        var boundSocketPath: String?
        /// Refusals not yet logged, and when the last log line about them was written: a flood
        /// of connections over the limit writes one line per `refusalLogInterval`, not one each.
        var refusalsNotLogged = 0
        var lastRefusalLog: ContinuousClock.Instant?
    }

    /// Shortest time between two log lines about refused connections.
    static let refusalLogInterval: Duration = .seconds(10)

    /// Where the server listens once started.
    public enum Endpoint: Sendable, CustomStringConvertible {
        case unixSocket(path: String)
        case tcp(host: String, port: Int)

        public var description: String {
            switch self {
            case .unixSocket(let path): return "unix:\(path)"
            case .tcp(let host, let port): return "tcp:\(host):\(port)"
            }
        }
    }

    /// - Parameters:
    ///   - metrics: where request, ingest and connection metrics go (a no-op backend unless
    ///     swift-metrics was bootstrapped or a factory was given).
    ///   - logger: refused connections and shutdown are logged here.
    public init(engine: MeterEngine, configuration: ServerConfiguration, threads: Int = System.coreCount,
                metrics: ServerMetrics = ServerMetrics(), logger: Logger = Logger(label: "meterd")) {
        self.engine = engine
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        authenticator = Authenticator(keys: KeyStore(), configuration: configuration.access, metrics: metrics.access, logger: logger)
        var router = Router()
        router.metrics = metrics
        router.authenticator = authenticator
        AccessService(engine: engine, keys: authenticator.keys).register(with: &router)
        let quotas = TenantQuotas(defaultQuota: configuration.defaultQuota, overrides: configuration.tenantQuotas, factory: metrics.factory)
        AdminService(engine: engine, quotas: quotas).register(with: &router)
        IngestService(engine: engine, maximumBatchEvents: configuration.limits.maximumBatchEvents, metrics: metrics, quotas: quotas).register(with: &router)
        QueryService(engine: engine).register(with: &router)
        HealthService(engine: engine, version: configuration.serverVersion, startedAt: .now).register(with: &router)
        self.router = router
    }

    /// Binds the configured sockets and starts serving; returns where it listens.
    public func start() async throws -> [Endpoint] {
        // The keys as recovered (snapshot + log), before the first connection is accepted.
        for key in try await engine.read({ machine in machine.apiKeys }) { authenticator.keys.update(key) }
        var endpoints: [Endpoint] = []
        if let path = configuration.unixSocketPath {
            try Self.removeStaleSocket(at: path)
            let previousMask = umask(0o177)
            let channel: Channel
            do {
                channel = try await bootstrap().bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false).get()
            } catch {
                umask(previousMask)
                throw error
            }
            umask(previousMask)
            guard chmod(path, mode_t(configuration.unixSocketPermissions)) == 0 else {
                throw ServerError("cannot set permissions of \(path): \(String(cString: strerror(errno)))")
            }
            state.withLockedValue {
                $0.listeners.append(channel)
                $0.boundSocketPath = path
            }
            endpoints.append(.unixSocket(path: path))
        }
        if let host = configuration.tcpHost {
            let tlsContext = try configuration.tls?.makeContext()
            let channel = try await bootstrap(tls: tlsContext).bind(host: host, port: configuration.tcpPort).get()
            state.withLockedValue { $0.listeners.append(channel) }
            endpoints.append(.tcp(host: host, port: channel.localAddress?.port ?? configuration.tcpPort))
        }
        state.withLockedValue { $0.endpoints = endpoints }
        return endpoints
    }

    /// Serves until graceful shutdown (or cancellation), then stops accepting and drains
    /// (`shutdown`). Binds first when `start()` was not called; `onListening` is told where it
    /// listens once bound. The engine is not shut down here: in meterd it is the service before
    /// this one in the ServiceGroup, so it stops after the server drained.
    public func run(onListening: @Sendable ([Endpoint]) -> Void) async throws {
        let endpoints: [Endpoint]
        if let started = state.withLockedValue({ $0.endpoints }) {
            endpoints = started
        } else {
            do {
                endpoints = try await start()
            } catch {
                await shutdown()
                throw error
            }
        }
        onListening(endpoints)
        // Returns when graceful shutdown is triggered; throws when the task is cancelled
        // (another service failed): either way the server drains and stops.
        try? await gracefulShutdown()
        logger.info("draining connections", metadata: ["connections": "\(state.withLockedValue { $0.connections.count })"])
        await shutdown()
    }

    public func run() async throws {
        try await run(onListening: { _ in })
    }

    /// `tls`: wraps every accepted connection in TLS (the TCP listener only).
    private func bootstrap(tls: NIOSSLContext? = nil) -> ServerBootstrap {
        let router = router
        let configuration = configuration
        let authenticator = authenticator
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // Back-pressure: a channel above the high mark is unwritable, and ConnectionHandler
            // holds reads until it is writable again (docs/protocol.md, "Limits").
            .childChannelOption(.writeBufferWaterMark, value: ChannelOptions.Types.WriteBufferWaterMark(
                low: configuration.writeBufferLowWaterMarkBytes, high: configuration.writeBufferHighWaterMarkBytes))
            .childChannelInitializer { [self] channel in
                let accepted = state.withLockedValue { state -> Bool in
                    guard !state.stopping, state.connections.count < configuration.maximumConnections else { return false }
                    state.connections[ObjectIdentifier(channel)] = channel
                    return true
                }
                if accepted {
                    metrics.connectionOpened()
                    channel.closeFuture.whenComplete { [self] _ in
                        _ = state.withLockedValue { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
                        metrics.connectionClosed()
                    }
                } else {
                    refused(channel)
                }
                return channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    if let tls { try operations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try operations.addHandler(MessageToByteHandler(FrameEncoder()))
                    guard accepted else {
                        try operations.addHandler(RefusingHandler(reason: "too many connections (limit \(configuration.maximumConnections)) or shutting down"))
                        return
                    }
                    try operations.addHandler(ByteToMessageHandler(
                        FrameDecoder(expectPreface: true, maximumFrameBytes: configuration.limits.maximumFrameBytes),
                        maximumBufferSize: 2 * configuration.limits.maximumFrameBytes + 64 * 1024))
                    try operations.addHandler(IdleStateHandler(allTimeout: TimeAmount(configuration.idleTimeout)))
                    try operations.addHandler(ConnectionHandler(router: router, configuration: configuration, authenticator: authenticator))
                }
            }
    }

    /// Stops accepting, tells every connection GOAWAY, lets in-flight requests finish (up to
    /// `timeout`), closes everything and stops the event loops. The engine is shut down by the caller.
    public func shutdown(timeout: Duration = .seconds(10)) async {
        let (listeners, connections) = state.withLockedValue { state -> ([Channel], [Channel]) in
            state.stopping = true
            return (state.listeners, Array(state.connections.values))
        }
        for listener in listeners { try? await listener.close() }
        for connection in connections { connection.pipeline.fireUserInboundEventTriggered(ServerShutdownEvent()) }
        let deadline = ContinuousClock.now + timeout
        for connection in connections {
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero { break }
            let closed = connection.closeFuture
            let timer = connection.eventLoop.scheduleTask(in: TimeAmount(remaining)) { connection.close(promise: nil) }
            try? await closed.get()
            timer.cancel()
        }
        if let path = state.withLockedValue({ $0.boundSocketPath }) { unlink(path) }
        try? await group.shutdownGracefully()
    }

    /// Counts a refused connection and logs refusals at most once per `refusalLogInterval`,
    /// with how many there were since the last line.
    private func refused(_ channel: Channel) {
        metrics.connectionRefused()
        let now = ContinuousClock.now
        let due = state.withLockedValue { state -> (count: Int, stopping: Bool, open: Int)? in
            state.refusalsNotLogged += 1
            if let last = state.lastRefusalLog, now - last < Self.refusalLogInterval { return nil }
            state.lastRefusalLog = now
            defer { state.refusalsNotLogged = 0 }
            return (state.refusalsNotLogged, state.stopping, state.connections.count)
        }
        guard let due else { return }
        logger.warning("connections refused", metadata: [
            "refused": "\(due.count)",
            "reason": due.stopping ? "shutting down" : "connection limit",
            "open_connections": "\(due.open)",
            "limit": "\(configuration.maximumConnections)",
            "peer": "\(channel.remoteAddress.map { "\($0)" } ?? "unknown")",
        ])
    }

    /// A socket file left by a crashed server is removed; one that still answers is an error.
    static func removeStaleSocket(at path: String) throws {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        guard (status.st_mode & S_IFMT) == S_IFSOCK else {
            throw ServerError("\(path) exists and is not a socket; refusing to replace it")
        }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw ServerError("socket path \(path) is too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if connected == 0 {
            throw ServerError("another server is listening on \(path)")
        }
        unlink(path)
    }
}

/// Start-up problems of the server, with a message for the operator.
public struct ServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Answers a refused connection with GOAWAY and closes it.
final class RefusingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = WireFrame
    let reason: String

    init(reason: String) { self.reason = reason }

    func channelActive(context: ChannelHandlerContext) {
        var message = Meterd_V1_GoAway()
        message.reason = reason
        let payload = (try? ProtobufPayload.encode(message)) ?? ByteBuffer()
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(WireFrame(type: .goAway, payload: payload))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
