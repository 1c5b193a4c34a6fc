import Logging
import MeterWire
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The wire-server core shared by meterd and meter-sidecar: listens on a Unix-domain socket and
/// on TCP at once (either can be off), speaks the framed protocol of docs/protocol.md through
/// one `ConnectionHandler` per connection, and dispatches requests through the `Router` its
/// owner filled. It knows no engine and no service: the owner only registers methods.
///
/// Start with `start()`, stop with `shutdown()`; or run it as a swift-service-lifecycle
/// `Service`: `run()` serves until graceful shutdown (SIGTERM, SIGINT), then stops accepting
/// and drains (see `shutdown`).
public final class WireServer: Sendable, Service {
    public let configuration: ServerConfiguration
    private let group: MultiThreadedEventLoopGroup
    private let router: Router
    private let state = NIOLockedValueBox(ServerState())
    private let observer: (any WireServerObserver)?
    private let logger: Logger

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
    ///   - router: the services' methods; the observer, when given, also times them.
    ///   - observer: told about requests and connections (meterd's metrics).
    ///   - logger: refused connections and shutdown are logged here.
    public init(configuration: ServerConfiguration, router: Router, threads: Int = System.coreCount,
                observer: (any WireServerObserver)? = nil, logger: Logger = Logger(label: "meterd")) {
        self.configuration = configuration
        var router = router
        router.observer = observer
        self.router = router
        self.observer = observer
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
    }

    /// Where the server listens, once started.
    public var endpoints: [Endpoint]? { state.withLockedValue { $0.endpoints } }

    /// Connections open now.
    public var connectionCount: Int { state.withLockedValue { $0.connections.count } }

    /// Binds the configured sockets and starts serving; returns where it listens.
    public func start() async throws -> [Endpoint] {
        var endpoints: [Endpoint] = []
        if let path = configuration.unixSocketPath {
            try UnixSocketFile.removeStale(at: path)
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
    /// listens once bound.
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
        logger.info("draining connections", metadata: ["connections": "\(connectionCount)"])
        await shutdown()
    }

    public func run() async throws {
        try await run(onListening: { _ in })
    }

    /// `tls`: wraps every accepted connection in TLS (the TCP listener only).
    private func bootstrap(tls: NIOSSLContext? = nil) -> ServerBootstrap {
        let router = router
        let configuration = configuration
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
                    observer?.connectionOpened()
                    channel.closeFuture.whenComplete { [self] _ in
                        _ = state.withLockedValue { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
                        observer?.connectionClosed()
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
                    try operations.addHandler(ConnectionHandler(router: router, configuration: configuration))
                }
            }
    }

    /// Stops accepting, tells every connection GOAWAY, lets in-flight requests finish (up to
    /// `timeout`), closes everything and stops the event loops.
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
        observer?.connectionRefused()
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
}

/// Start-up problems of a server, with a message for the operator.
public struct ServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
