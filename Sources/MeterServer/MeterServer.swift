import Foundation
import MeterEngine
import MeterProto
import MeterWire
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The front door: listens on a Unix-domain socket and on TCP at once (either can be off),
/// speaks the framed protocol of docs/protocol.md and hands every request to the engine.
///
/// Event loops only do socket I/O and framing; handlers run as tasks that await the engine,
/// whose writer thread does the fsyncs. Start with `start()`, stop with `shutdown()`.
public final class MeterServer: Sendable {
    public let configuration: ServerConfiguration
    private let engine: MeterEngine
    private let group: MultiThreadedEventLoopGroup
    private let router: Router
    private let state = NIOLockedValueBox(ServerState())

    private struct ServerState {
        var listeners: [Channel] = []
        var connections: [ObjectIdentifier: Channel] = [:]
        var stopping = false
    }

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

    public init(engine: MeterEngine, configuration: ServerConfiguration, threads: Int = System.coreCount) {
        self.engine = engine
        self.configuration = configuration
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        var router = Router()
        AdminService(engine: engine).register(with: &router)
        IngestService(engine: engine, maximumBatchEvents: configuration.limits.maximumBatchEvents).register(with: &router)
        QueryService(engine: engine).register(with: &router)
        HealthService(engine: engine, version: configuration.serverVersion, startedAt: .now).register(with: &router)
        self.router = router
    }

    /// Binds the configured sockets and starts serving; returns where it listens.
    public func start() async throws -> [Endpoint] {
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
            state.withLockedValue { $0.listeners.append(channel) }
            endpoints.append(.unixSocket(path: path))
        }
        if let host = configuration.tcpHost {
            let channel = try await bootstrap().bind(host: host, port: configuration.tcpPort).get()
            state.withLockedValue { $0.listeners.append(channel) }
            endpoints.append(.tcp(host: host, port: channel.localAddress?.port ?? configuration.tcpPort))
        }
        return endpoints
    }

    private func bootstrap() -> ServerBootstrap {
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
                channel.closeFuture.whenComplete { [self] _ in
                    _ = state.withLockedValue { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
                }
                return channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
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
        if let path = configuration.unixSocketPath { unlink(path) }
        try? await group.shutdownGracefully()
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
