import Foundation
import MeterProto
import MeterWire
@testable import MeterWireServer
import NIOCore
import NIOEmbedded
import SwiftProtobuf
import XCTest

/// A `ConnectionHandler` behind the real frame codec in an `EmbeddedChannel`, as meterd's
/// bootstrap builds it, with a socket stand-in at the head of the pipeline. Tests feed bytes
/// or frames in and read the frames the server wrote, in order, with no sockets and no clock.
final class ConnectionHarness {
    let channel = EmbeddedChannel()
    let socket = SocketStandIn()
    let answers = HeldAnswers()
    let streams = HeldStreams()

    /// `maximumInFlight` and `configure` set the configuration; the router's methods are fixed.
    /// Health.Check answers when the test says (`answers`); Health.ServerInfo answers at once
    /// with a payload of as many bytes as its request carries in its first 4 bytes (or none).
    /// Entitlements.WatchNotifications is a server stream the test drives (`streams`).
    init(maximumInFlight: Int = 64, configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        var configuration = ServerConfiguration()
        configuration.limits.maximumInFlight = maximumInFlight
        configure(&configuration)
        var router = Router()
        let answers = answers
        router.register(.healthCheck, completion: { _, _, done in answers.hold(done) })
        router.register(.serverInfo, completion: { payload, _, done in
            let size = payload.getInteger(at: payload.readerIndex, as: UInt32.self).map(Int.init) ?? 0
            done(RPCReply(status: .ok, payload: ByteBuffer(repeating: 0xAB, count: size)))
        })
        let streams = streams
        router.registerStreaming(.watchNotifications) { _, _, stream in streams.hold(stream) }
        let operations = channel.pipeline.syncOperations
        try operations.addHandler(socket)
        try operations.addHandler(MessageToByteHandler(FrameEncoder()))
        try operations.addHandler(ByteToMessageHandler(FrameDecoder(expectPreface: true, maximumFrameBytes: configuration.limits.maximumFrameBytes)))
        try operations.addHandler(ConnectionHandler(router: router, configuration: configuration))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7878)).wait()
    }

    deinit { _ = try? channel.finish() }

    func send(_ bytes: [UInt8]) throws {
        try channel.writeInbound(ByteBuffer(bytes: bytes))
        channel.embeddedEventLoop.run()
    }

    func send(_ frame: WireFrame) throws {
        var buffer = ByteBuffer()
        FrameEncoder.write(frame, to: &buffer)
        try send(Array(buffer.readableBytesView))
    }

    static func handshakeFrame(maximumFrameBytes: UInt32 = 0, streamId: UInt32 = 0, code: UInt16 = 0,
                               protocolVersion: UInt32 = 1, tenantId: String = "") throws -> WireFrame {
        var message = Meterd_V1_Handshake()
        message.protocolVersion = protocolVersion
        message.tenantID = tenantId
        message.clientName = "connection-harness"
        message.maxFrameBytes = maximumFrameBytes
        return WireFrame(type: .handshake, code: code, streamId: streamId, payload: try ProtobufPayload.encode(message))
    }

    /// Preface and HANDSHAKE; fails the test unless a HANDSHAKE_ACK (and nothing else) comes back.
    func handshake(maximumFrameBytes: UInt32 = 0) throws {
        try send(WirePreface.bytes)
        try send(try Self.handshakeFrame(maximumFrameBytes: maximumFrameBytes))
        XCTAssertEqual(try writtenFrames().map(\.type), [.handshakeAck])
    }

    func request(_ method: MethodID, streamId: UInt32, payload: [UInt8] = []) -> WireFrame {
        WireFrame(type: .request, code: method.rawValue, streamId: streamId, payload: ByteBuffer(bytes: payload))
    }

    /// Runs the answers handed to the event loop, then returns every frame written since the
    /// last call, in order.
    func writtenFrames() throws -> [WireFrame] {
        channel.embeddedEventLoop.run()
        var bytes = ByteBuffer()
        while var chunk = try channel.readOutbound(as: ByteBuffer.self) { bytes.writeBuffer(&chunk) }
        var frames: [WireFrame] = []
        while let frame = try FrameDecoder.readFrame(from: &bytes, maximumFrameBytes: 64 << 20) { frames.append(frame) }
        XCTAssertEqual(bytes.readableBytes, 0, "a partial frame was written")
        return frames
    }

    func goAway(_ frame: WireFrame) throws -> Meterd_V1_GoAway {
        XCTAssertEqual(frame.type, .goAway)
        return try ProtobufPayload.decode(Meterd_V1_GoAway.self, from: frame.payload)
    }

    var isClosed: Bool { !channel.isActive }
}

/// Completions of router handlers that answer only when the test says so.
final class HeldAnswers: @unchecked Sendable {
    private let lock = NSLock()
    private var completions: [@Sendable (RPCReply) -> Void] = []

    func hold(_ completion: @escaping @Sendable (RPCReply) -> Void) {
        lock.withLock { completions.append(completion) }
    }

    var count: Int { lock.withLock { completions.count } }

    /// Answers the `index`th held call (in arrival order) OK, with `payload`.
    func answer(_ index: Int, payload: [UInt8] = [1, 2, 3]) {
        let completion = lock.withLock { completions[index] }
        completion(RPCReply(status: .ok, payload: ByteBuffer(bytes: payload)))
    }
}

/// Server streams opened on the harness, driven by the test: each records whether the
/// connection asked it to end.
final class HeldStreams: @unchecked Sendable {
    private let lock = NSLock()
    private var streams: [ServerStream] = []
    private var ended: [Bool] = []

    func hold(_ stream: ServerStream) {
        let index = lock.withLock { () -> Int in
            streams.append(stream)
            ended.append(false)
            return streams.count - 1
        }
        stream.onEnd { [self] in lock.withLock { ended[index] = true } }
    }

    var count: Int { lock.withLock { streams.count } }
    subscript(index: Int) -> ServerStream { lock.withLock { streams[index] } }
    func wasAskedToEnd(_ index: Int) -> Bool { lock.withLock { ended[index] } }
}

/// Stands in for the socket at the head of the pipeline: counts `read()` calls that reach it,
/// and while `holdsWrites` is set keeps written bytes (and their promises) as a kernel buffer
/// does for a client that does not read, until `releaseWrites`.
final class SocketStandIn: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private(set) var readCount = 0
    var holdsWrites = false
    private var held: [(NIOAny, EventLoopPromise<Void>?)] = []
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func read(context: ChannelHandlerContext) {
        readCount += 1
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if holdsWrites { held.append((data, promise)) } else { context.write(data, promise: promise) }
    }

    func flush(context: ChannelHandlerContext) {
        if !holdsWrites { context.flush() }
    }

    /// Lets every held write through, in order, and stops holding.
    func releaseWrites() {
        guard let context else { return }
        holdsWrites = false
        let writes = held
        held = []
        for (data, promise) in writes { context.write(data, promise: promise) }
        context.flush()
    }
}
