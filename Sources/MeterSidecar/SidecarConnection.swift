#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MeterProto
import MeterWire
import NIOCore
import NIOPosix
import SwiftProtobuf

/// What the sidecar answers one request with: a status and its payload (the response message,
/// or an ErrorDetail when the status is not OK).
struct SidecarReply: Sendable, Error {
    var status: StatusCode
    var payload: ByteBuffer

    static func failure(_ status: StatusCode, _ message: String, reason: String = "") -> SidecarReply {
        var detail = Meterd_V1_ErrorDetail()
        detail.code = UInt32(status.rawValue)
        detail.message = message
        detail.reason = reason
        return SidecarReply(status: status, payload: (try? ProtobufPayload.encode(detail)) ?? ByteBuffer())
    }

    static func success(_ message: some SwiftProtobuf.Message) -> SidecarReply {
        do {
            return SidecarReply(status: .ok, payload: try ProtobufPayload.encode(message))
        } catch {
            return failure(.internalError, "cannot encode the response: \(error)")
        }
    }
}

typealias SidecarRequestHandler = @Sendable (_ method: UInt16, _ payload: ByteBuffer) async -> SidecarReply

struct SidecarShutdownEvent: Sendable {}

/// One client connection to the sidecar: the same framing, preface and handshake as meterd
/// (docs/protocol.md), requests answered by stream id in any order, PING/PONG, GOAWAY on
/// protocol errors and at shutdown.
final class SidecarConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = WireFrame
    typealias OutboundOut = WireFrame

    private enum State { case awaitingHandshake, ready, draining, closed }

    private var state = State.awaitingHandshake
    private var inFlight = 0
    private var lastStreamId: UInt32 = 0
    private var activeStreams = Set<UInt32>()
    private let handler: SidecarRequestHandler
    private let tenantId: String
    private let limits: WireLimits

    init(handler: @escaping SidecarRequestHandler, tenantId: String, limits: WireLimits) {
        self.handler = handler
        self.tenantId = tenantId
        self.limits = limits
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .closed
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard frame.flags == 0 else { return goAway(context: context, reason: "frame flags must be 0") }
        switch state {
        case .awaitingHandshake:
            guard frame.type == .handshake else { return goAway(context: context, reason: "the first frame must be a HANDSHAKE") }
            handshake(frame, context: context)
        case .ready:
            switch frame.type {
            case .request:
                request(frame, context: context)
            case .ping:
                guard frame.streamId != 0, frame.payload.readableBytes == 8 else {
                    return goAway(context: context, reason: "a PING needs a non-zero stream id and an 8-byte payload")
                }
                context.writeAndFlush(wrapOutboundOut(WireFrame(type: .pong, streamId: frame.streamId, payload: frame.payload)), promise: nil)
            case .pong:
                break
            case .goAway:
                close(context: context)
            case .handshake, .handshakeAck, .response:
                goAway(context: context, reason: "unexpected \(frame.type) frame")
            }
        case .draining, .closed:
            break
        }
    }

    private func handshake(_ frame: WireFrame, context: ChannelHandlerContext) {
        guard let message = try? ProtobufPayload.decode(Meterd_V1_Handshake.self, from: frame.payload) else {
            return goAway(context: context, reason: "the HANDSHAKE payload does not decode")
        }
        guard message.protocolVersion == UInt32(WirePreface.protocolVersion) else {
            return goAway(context: context, reason: "unsupported protocol version \(message.protocolVersion); this server speaks \(WirePreface.protocolVersion)")
        }
        guard message.tenantID.isEmpty || message.tenantID == tenantId else {
            return goAway(context: context, reason: "this meter-sidecar forwards for tenant \"\(tenantId)\" only, not \"\(message.tenantID.prefix(64))\"")
        }
        state = .ready
        var acknowledgement = Meterd_V1_HandshakeAck()
        acknowledgement.protocolVersion = UInt32(WirePreface.protocolVersion)
        acknowledgement.serverVersion = "meter-sidecar \(Sidecar.version)"
        acknowledgement.maxFrameBytes = UInt32(limits.maximumFrameBytes)
        acknowledgement.maxBatchEvents = UInt32(limits.maximumBatchEvents)
        acknowledgement.maxInFlight = UInt32(limits.maximumInFlight)
        acknowledgement.tenantID = tenantId
        context.writeAndFlush(wrapOutboundOut(WireFrame(type: .handshakeAck, payload: (try? ProtobufPayload.encode(acknowledgement)) ?? ByteBuffer())), promise: nil)
    }

    private func request(_ frame: WireFrame, context: ChannelHandlerContext) {
        guard frame.streamId != 0 else { return goAway(context: context, reason: "a REQUEST needs a non-zero stream id") }
        guard !activeStreams.contains(frame.streamId) else { return goAway(context: context, reason: "stream id \(frame.streamId) is already in flight") }
        lastStreamId = frame.streamId
        guard inFlight < limits.maximumInFlight else {
            let refusal = SidecarReply.failure(.resourceExhausted, "more than \(limits.maximumInFlight) requests in flight on this connection; wait for replies")
            return reply(refusal, streamId: frame.streamId, context: context)
        }
        inFlight += 1
        activeStreams.insert(frame.streamId)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let handler = handler
        let method = frame.code
        let payload = frame.payload
        let streamId = frame.streamId
        Task {
            let answer = await handler(method, payload)
            eventLoop.execute {
                let (connection, context) = loopBound.value
                connection.inFlight -= 1
                connection.activeStreams.remove(streamId)
                connection.reply(answer, streamId: streamId, context: context)
                if case .draining = connection.state, connection.inFlight == 0 { connection.close(context: context) }
            }
        }
    }

    private func reply(_ answer: SidecarReply, streamId: UInt32, context: ChannelHandlerContext) {
        if case .closed = state { return }
        context.writeAndFlush(wrapOutboundOut(WireFrame(type: .response, code: answer.status.rawValue, streamId: streamId, payload: answer.payload)), promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is SidecarShutdownEvent {
            goAway(context: context, reason: "meter-sidecar shutting down")
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let wireError = error as? WireError {
            goAway(context: context, reason: wireError.description)
        } else {
            close(context: context)
        }
    }

    private func goAway(context: ChannelHandlerContext, reason: String) {
        switch state {
        case .closed, .draining: return
        default: break
        }
        var message = Meterd_V1_GoAway()
        message.reason = reason
        message.lastStreamID = lastStreamId
        context.writeAndFlush(wrapOutboundOut(WireFrame(type: .goAway, payload: (try? ProtobufPayload.encode(message)) ?? ByteBuffer())), promise: nil)
        if inFlight == 0 { close(context: context) } else { state = .draining }
    }

    private func close(context: ChannelHandlerContext) {
        if case .closed = state { return }
        state = .closed
        context.close(promise: nil)
    }
}

/// Removes a socket file left by a crashed process; one that still answers is an error.
func removeStaleSocket(at path: String) throws {
    var status = stat()
    guard lstat(path, &status) == 0 else { return }
    guard (status.st_mode & S_IFMT) == S_IFSOCK else {
        throw SidecarError("\(path) exists and is not a socket; refusing to replace it")
    }
    let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return }
    defer { close(descriptor) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let pathBytes = Array(path.utf8)
    guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw SidecarError("socket path \(path) is too long") }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: pathBytes)
        raw[pathBytes.count] = 0
    }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    if connected == 0 { throw SidecarError("another process is listening on \(path)") }
    unlink(path)
}

public struct SidecarError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
