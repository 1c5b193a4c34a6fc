import MeterCore
import MeterProto
import MeterWire
import NIOCore

/// Asks a connection to finish its in-flight requests, say GOAWAY and close.
struct ServerShutdownEvent: Sendable {}

/// One client connection: handshake, then requests dispatched through the router, replies
/// matched by stream id (they may complete out of order), ping/pong, and GOAWAY on errors.
///
/// A framing violation cannot be resynchronised, so it closes this connection (after a GOAWAY
/// naming the problem) and nothing else. At most `maximumInFlight` requests run at once per
/// connection; more are answered RESOURCE_EXHAUSTED right away, so memory stays bounded.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = WireFrame
    typealias OutboundOut = WireFrame

    private enum State {
        case awaitingHandshake
        case ready(tenantId: String)
        case draining
        case closed
    }

    private var state = State.awaitingHandshake
    private var inFlight = 0
    private var lastStreamId: UInt32 = 0
    private var activeStreams = Set<UInt32>()
    /// Largest payload the client accepts (from its handshake).
    private var clientMaximumFrameBytes = 4 << 20
    private var handshakeTimer: Scheduled<Void>?
    private let router: Router
    private let configuration: ServerConfiguration

    init(router: Router, configuration: ServerConfiguration) {
        self.router = router
        self.configuration = configuration
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        handshakeTimer = context.eventLoop.scheduleTask(in: TimeAmount(configuration.handshakeTimeout)) {
            let (handler, context) = loopBound.value
            if case .awaitingHandshake = handler.state { handler.goAway(context: context, reason: "handshake timeout") }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        state = .closed
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard frame.flags == 0 else {
            goAway(context: context, reason: "frame flags must be 0")
            return
        }
        switch state {
        case .awaitingHandshake:
            guard frame.type == .handshake else {
                goAway(context: context, reason: "the first frame must be a HANDSHAKE")
                return
            }
            handshake(frame, context: context)
        case .ready(let tenantId):
            switch frame.type {
            case .request:
                request(frame, tenantId: tenantId, context: context)
            case .ping:
                guard frame.streamId != 0, frame.payload.readableBytes == 8 else {
                    goAway(context: context, reason: "a PING needs a non-zero stream id and an 8-byte payload")
                    return
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
        let message: Meterd_V1_Handshake
        do {
            message = try ProtobufPayload.decode(Meterd_V1_Handshake.self, from: frame.payload)
        } catch {
            goAway(context: context, reason: "the HANDSHAKE payload does not decode: \(error)")
            return
        }
        guard message.protocolVersion == UInt32(WirePreface.protocolVersion) else {
            goAway(context: context, reason: "unsupported protocol version \(message.protocolVersion); this server speaks \(WirePreface.protocolVersion)")
            return
        }
        let tenantId = message.tenantID.isEmpty ? "default" : message.tenantID
        guard NameRules.isValidEventName(tenantId) else {
            goAway(context: context, reason: "tenant id \"\(tenantId.prefix(64))\" is invalid: use 1-64 characters of a-z, 0-9, '_', '.', '-'")
            return
        }
        handshakeTimer?.cancel()
        state = .ready(tenantId: tenantId)
        if message.maxFrameBytes > 0 { clientMaximumFrameBytes = Int(message.maxFrameBytes) }
        var acknowledgement = Meterd_V1_HandshakeAck()
        acknowledgement.protocolVersion = UInt32(WirePreface.protocolVersion)
        acknowledgement.serverVersion = configuration.serverVersion
        acknowledgement.maxFrameBytes = UInt32(configuration.limits.maximumFrameBytes)
        acknowledgement.maxBatchEvents = UInt32(configuration.limits.maximumBatchEvents)
        acknowledgement.maxInFlight = UInt32(configuration.limits.maximumInFlight)
        acknowledgement.tenantID = tenantId
        write(WireFrame(type: .handshakeAck, payload: (try? ProtobufPayload.encode(acknowledgement)) ?? ByteBuffer()), context: context)
    }

    private func request(_ frame: WireFrame, tenantId: String, context: ChannelHandlerContext) {
        guard frame.streamId != 0 else {
            goAway(context: context, reason: "a REQUEST needs a non-zero stream id")
            return
        }
        guard !activeStreams.contains(frame.streamId) else {
            goAway(context: context, reason: "stream id \(frame.streamId) is already in flight")
            return
        }
        lastStreamId = frame.streamId
        guard let handler = router.handler(for: frame.code) else {
            reply(RPCFailure(.unimplemented, "unknown method id \(frame.code)").reply, streamId: frame.streamId, context: context)
            return
        }
        guard inFlight < configuration.limits.maximumInFlight else {
            reply(RPCFailure(.resourceExhausted, "more than \(configuration.limits.maximumInFlight) requests in flight on this connection; wait for replies").reply,
                  streamId: frame.streamId, context: context)
            return
        }
        inFlight += 1
        activeStreams.insert(frame.streamId)
        let requestContext = RequestContext(tenantId: tenantId)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let payload = frame.payload
        let streamId = frame.streamId
        handler(payload, requestContext) { answer in
            eventLoop.execute {
                let (connection, context) = loopBound.value
                connection.inFlight -= 1
                connection.activeStreams.remove(streamId)
                connection.reply(answer, streamId: streamId, context: context)
                if case .draining = connection.state, connection.inFlight == 0 { connection.close(context: context) }
            }
        }
    }

    private func reply(_ answer: RPCReply, streamId: UInt32, context: ChannelHandlerContext) {
        if case .closed = state { return }
        guard answer.payload.readableBytes <= clientMaximumFrameBytes else {
            let refusal = RPCFailure(.resourceExhausted, "the response (\(answer.payload.readableBytes) bytes) exceeds the client's max_frame_bytes (\(clientMaximumFrameBytes)); ask for less").reply
            write(WireFrame(type: .response, code: refusal.status.rawValue, streamId: streamId, payload: refusal.payload), context: context)
            return
        }
        write(WireFrame(type: .response, code: answer.status.rawValue, streamId: streamId, payload: answer.payload), context: context)
    }

    private func write(_ frame: WireFrame, context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ServerShutdownEvent {
            goAway(context: context, reason: "server shutting down")
        } else if event is IdleStateHandler.IdleStateEvent {
            // A connection waiting for its own replies (a big batch on a busy server) is not idle.
            if inFlight == 0 { goAway(context: context, reason: "idle timeout") }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let wireError = error as? WireError {
            goAway(context: context, reason: wireError.description)
        } else if error is ByteToMessageDecoderError.PayloadTooLargeError {
            goAway(context: context, reason: "too much unframed data buffered")
        } else {
            close(context: context)
        }
    }

    private func sendGoAway(context: ChannelHandlerContext, reason: String) {
        var message = Meterd_V1_GoAway()
        message.reason = reason
        message.lastStreamID = lastStreamId
        write(WireFrame(type: .goAway, payload: (try? ProtobufPayload.encode(message)) ?? ByteBuffer()), context: context)
    }

    /// Says why, then closes once the requests already accepted are answered: used for every
    /// violation that cannot be recovered from. Nothing more is read from the connection.
    private func goAway(context: ChannelHandlerContext, reason: String) {
        switch state {
        case .closed, .draining: return
        default: break
        }
        sendGoAway(context: context, reason: reason)
        if inFlight == 0 { close(context: context) } else { state = .draining }
    }

    private func close(context: ChannelHandlerContext) {
        if case .closed = state { return }
        state = .closed
        handshakeTimer?.cancel()
        context.close(promise: nil)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
