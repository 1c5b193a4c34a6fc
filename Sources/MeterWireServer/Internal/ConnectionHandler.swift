import MeterProto
import MeterWire
import NIOCore

/// Asks a connection to finish its in-flight requests, say GOAWAY and close.
struct ServerShutdownEvent: Sendable {}

/// One client connection: handshake, then requests dispatched through the router, replies
/// matched by stream id (they may complete out of order), ping/pong, and GOAWAY on errors.
///
/// A framing violation cannot be resynchronised, so it closes this connection and nothing
/// else: reading stops at once, the replies of the requests already accepted are written,
/// then the GOAWAY naming the problem (the server's last frame), then the close.
///
/// Memory per connection is bounded two ways. A request stays in flight until its reply has
/// been written to the socket (not merely handed to the channel), and at most `maximumInFlight`
/// are in flight; more are answered RESOURCE_EXHAUSTED at once. And while the channel's
/// unwritten output is above its high water mark, `read()` is held, so a client that does not
/// read its replies stops being read from instead of growing the server's buffers. The
/// handler holds reads itself (rather than NIO's `BackPressureHandler`) because draining
/// before a GOAWAY stops reading too, and one place decides both.
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = WireFrame
    typealias OutboundIn = WireFrame
    typealias OutboundOut = WireFrame

    private enum State {
        case awaitingHandshake
        case ready(ConnectionIdentity)
        /// A GOAWAY is due: nothing more is read or acted on, and the GOAWAY is written once
        /// every accepted request's reply has been written.
        case draining(reason: String)
        /// The GOAWAY is written; the connection closes when it has left.
        case closing
        case closed
    }

    private var state = State.awaitingHandshake
    /// Accepted requests whose reply is not yet written to the socket (handler still running,
    /// or reply waiting in the channel because the client does not read).
    private var inFlight = 0
    /// Accepted requests whose handler has not answered yet.
    private var handlersRunning = 0
    private var lastStreamId: UInt32 = 0
    private var activeStreams = Set<UInt32>()
    /// Open server streams (docs/protocol.md, "Server streams") by stream id, until their final
    /// RESPONSE is handed to the channel. Each also counts in `inFlight` until that RESPONSE is
    /// written.
    private var openStreams: [UInt32: OpenStream] = [:]
    /// Largest payload the client accepts (from its handshake).
    private var clientMaximumFrameBytes = WireLimits().maximumFrameBytes
    /// A `read()` arrived while reading was held; issue it when reading may resume.
    private var readHeld = false
    private var handshakeTimer: Scheduled<Void>?
    /// The status code of the GOAWAY: 0, or why the handshake was refused.
    private var goAwayCode: UInt16 = 0
    private let router: Router
    private let configuration: ServerConfiguration
    private let authenticator: any ConnectionAuthenticating

    init(router: Router, configuration: ServerConfiguration) {
        self.router = router
        self.configuration = configuration
        self.authenticator = configuration.authenticator ?? configuration.tenantAdmission
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
        // Streaming handlers stop producing; their final replies are dropped.
        for stream in openStreams.values { stream.server.requestEnd() }
        context.fireChannelInactive()
    }

    // MARK: Reading, held while the output is full or a GOAWAY is due

    func read(context: ChannelHandlerContext) {
        if mayRead(context: context) {
            context.read()
        } else {
            readHeld = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if readHeld, mayRead(context: context) {
            readHeld = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    private func mayRead(context: ChannelHandlerContext) -> Bool {
        switch state {
        case .awaitingHandshake, .ready: return context.channel.isWritable
        case .draining, .closing, .closed: return false
        }
    }

    // MARK: Frames

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let identity: ConnectionIdentity?
        switch state {
        case .awaitingHandshake: identity = nil
        case .ready(let known): identity = known
        case .draining, .closing, .closed: return  // frames already decoded behind a GOAWAY are dropped
        }
        if let violation = ClientFrameRules.violation(of: frame, handshakeDone: identity != nil) {
            goAway(context: context, reason: violation)
            return
        }
        switch frame.type {
        case .handshake:
            handshake(frame, context: context)
        case .request:
            if let identity { request(frame, identity: identity, context: context) }
        case .ping:
            write(WireFrame(type: .pong, streamId: frame.streamId, payload: frame.payload), context: context)
        case .cancel:
            cancelStream(frame.streamId)
        case .response, .handshakeAck, .pong, .goAway, .message:
            break  // refused by ClientFrameRules
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
        let identity: ConnectionIdentity
        switch authenticator.authenticate(message, channel: context.channel) {
        case .success(let accepted): identity = accepted
        case .failure(let refusal):
            refuseHandshake(refusal, context: context)
            return
        }
        if message.maxFrameBytes > 0 {
            guard Int(message.maxFrameBytes) >= WireLimits.minimumFrameBytes else {
                goAway(context: context, reason: "max_frame_bytes \(message.maxFrameBytes) is below the protocol's minimum of \(WireLimits.minimumFrameBytes)")
                return
            }
            clientMaximumFrameBytes = Int(message.maxFrameBytes)
        }
        handshakeTimer?.cancel()
        let tenantId = identity.tenantId
        state = .ready(identity)
        var acknowledgement = Meterd_V1_HandshakeAck()
        acknowledgement.protocolVersion = UInt32(WirePreface.protocolVersion)
        acknowledgement.serverVersion = configuration.serverVersion
        acknowledgement.maxFrameBytes = UInt32(configuration.limits.maximumFrameBytes)
        acknowledgement.maxBatchEvents = UInt32(configuration.limits.maximumBatchEvents)
        acknowledgement.maxInFlight = UInt32(configuration.limits.maximumInFlight)
        acknowledgement.tenantID = tenantId
        acknowledgement.role = identity.role
        acknowledgement.principal = identity.name
        acknowledgement.serverStreams = true
        write(WireFrame(type: .handshakeAck, payload: (try? ProtobufPayload.encode(acknowledgement)) ?? ByteBuffer()), context: context)
    }

    /// A refused credential: nothing more is read, and after the authenticator's delay (which
    /// slows down guessing without holding the event loop) the GOAWAY says why, with the status
    /// in its code field, and the connection closes.
    private func refuseHandshake(_ refusal: HandshakeRefusal, context: ChannelHandlerContext) {
        guard let status = refusal.status else {
            goAway(context: context, reason: refusal.message)
            return
        }
        handshakeTimer?.cancel()
        goAwayCode = status.rawValue
        state = .draining(reason: refusal.message)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: TimeAmount(authenticator.refusalDelay)) {
            let (handler, context) = loopBound.value
            handler.sendGoAwayIfDrained(context: context)
        }
    }

    private func request(_ frame: WireFrame, identity: ConnectionIdentity, context: ChannelHandlerContext) {
        guard !activeStreams.contains(frame.streamId) else {
            goAway(context: context, reason: "stream id \(frame.streamId) is already in flight")
            return
        }
        lastStreamId = frame.streamId
        if let streaming = router.streamingHandler(for: frame.code) {
            openStream(frame, handler: streaming, identity: identity, context: context)
            return
        }
        guard let handler = router.handler(for: frame.code) else {
            write(responseFrame(RPCFailure(.unimplemented, "unknown method id \(frame.code)").reply, streamId: frame.streamId), context: context)
            return
        }
        if refusedOverInFlightLimit(frame, context: context) { return }
        inFlight += 1
        handlersRunning += 1
        activeStreams.insert(frame.streamId)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let streamId = frame.streamId
        handler(frame.payload, RequestContext(tenantId: identity.tenantId, eventLoop: eventLoop, identity: identity)) { answer in
            // Handlers that already moved to the event loop (ingest encodes its reply there)
            // answer in place; others hand the answer over.
            if eventLoop.inEventLoop {
                let (connection, context) = loopBound.value
                connection.answered(answer, streamId: streamId, context: context)
            } else {
                eventLoop.execute {
                    let (connection, context) = loopBound.value
                    connection.answered(answer, streamId: streamId, context: context)
                }
            }
        }
    }

    /// Answers RESOURCE_EXHAUSTED when the connection already has its most requests (unary
    /// calls and open streams) in flight; true when `frame` was refused.
    private func refusedOverInFlightLimit(_ frame: WireFrame, context: ChannelHandlerContext) -> Bool {
        guard inFlight >= configuration.limits.maximumInFlight else { return false }
        let refusal = RPCFailure(.resourceExhausted, "more than \(configuration.limits.maximumInFlight) requests in flight on this connection; read the replies before sending more")
        write(responseFrame(refusal.reply, streamId: frame.streamId), context: context)
        return true
    }

    /// A handler's answer: written now, but the request stays in flight until it has left.
    private func answered(_ answer: RPCReply, streamId: UInt32, context: ChannelHandlerContext) {
        handlersRunning -= 1
        if case .closed = state { return }
        write(responseFrame(answer, streamId: streamId), context: context) { connection, context in
            connection.inFlight -= 1
            connection.activeStreams.remove(streamId)
            connection.sendGoAwayIfDrained(context: context)
        }
    }

    // MARK: Server streams

    /// One open server stream: the handler's `ServerStream`, why the connection ended it, and
    /// how many of its MESSAGE frames are handed to the channel but not yet written.
    private final class OpenStream {
        let server: ServerStream
        /// Replaces the handler's final reply: CANCELLED when the client sent CANCEL.
        var finalReplyOverride: RPCReply?
        var unwrittenMessages = 0

        init(server: ServerStream) { self.server = server }
    }

    private func openStream(_ frame: WireFrame, handler: @escaping Router.StreamingHandler, identity: ConnectionIdentity,
                            context: ChannelHandlerContext) {
        if refusedOverInFlightLimit(frame, context: context) { return }
        inFlight += 1
        activeStreams.insert(frame.streamId)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let streamId = frame.streamId
        let server = ServerStream(
            writeMessage: { payload, whenWritten in
                Self.onLoop(eventLoop) {
                    let (connection, context) = loopBound.value
                    connection.streamMessage(payload, streamId: streamId, context: context, whenWritten: whenWritten)
                }
            },
            finishCall: { reply in
                Self.onLoop(eventLoop) {
                    let (connection, context) = loopBound.value
                    connection.streamFinished(reply, streamId: streamId, context: context)
                }
            })
        openStreams[streamId] = OpenStream(server: server)
        handler(frame.payload, RequestContext(tenantId: identity.tenantId, eventLoop: eventLoop, identity: identity), server)
    }

    private static func onLoop(_ eventLoop: any EventLoop, _ body: @escaping @Sendable () -> Void) {
        if eventLoop.inEventLoop { body() } else { eventLoop.execute(body) }
    }

    private func streamMessage(_ payload: ByteBuffer, streamId: UInt32, context: ChannelHandlerContext,
                               whenWritten: @escaping @Sendable (Bool) -> Void) {
        guard let stream = openStreams[streamId], case .ready = state, !stream.server.isEnding else {
            whenWritten(false)
            return
        }
        guard payload.readableBytes <= clientMaximumFrameBytes else {
            stream.finalReplyOverride = RPCFailure(.resourceExhausted, "a stream message (\(payload.readableBytes) bytes) exceeds the client's max_frame_bytes (\(clientMaximumFrameBytes))").reply
            stream.server.requestEnd()
            whenWritten(false)
            return
        }
        stream.unwrittenMessages += 1
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenComplete { result in
            stream.unwrittenMessages -= 1
            if case .success = result { whenWritten(true) } else { whenWritten(false) }
        }
        context.writeAndFlush(wrapOutboundOut(WireFrame(type: .message, streamId: streamId, payload: payload)), promise: promise)
    }

    /// The handler ended its stream: the final RESPONSE goes out, and the stream stays in flight
    /// until it is written.
    private func streamFinished(_ reply: RPCReply, streamId: UInt32, context: ChannelHandlerContext) {
        guard let stream = openStreams.removeValue(forKey: streamId) else { return }
        if case .closed = state { return }
        write(responseFrame(stream.finalReplyOverride ?? reply, streamId: streamId), context: context) { connection, context in
            connection.inFlight -= 1
            connection.activeStreams.remove(streamId)
            connection.sendGoAwayIfDrained(context: context)
        }
    }

    /// CANCEL from the client: the stream's handler is asked to stop, and its final RESPONSE
    /// says CANCELLED. A stream id that is not an open server stream (already ended, a unary
    /// request, never used) is ignored: the client may have sent CANCEL while the RESPONSE was
    /// on its way.
    private func cancelStream(_ streamId: UInt32) {
        guard let stream = openStreams[streamId], !stream.server.isEnding else { return }
        stream.finalReplyOverride = RPCFailure(.cancelled, "the stream was cancelled by the client").reply
        stream.server.requestEnd()
    }

    private func responseFrame(_ answer: RPCReply, streamId: UInt32) -> WireFrame {
        guard answer.payload.readableBytes <= clientMaximumFrameBytes else {
            let refusal = RPCFailure(.resourceExhausted, "the response (\(answer.payload.readableBytes) bytes) exceeds the client's max_frame_bytes (\(clientMaximumFrameBytes)); ask for less").reply
            return WireFrame(type: .response, code: refusal.status.rawValue, streamId: streamId, payload: refusal.payload)
        }
        return WireFrame(type: .response, code: answer.status.rawValue, streamId: streamId, payload: answer.payload)
    }

    /// Writes and flushes `frame`; `whenWritten` runs on the event loop once the frame has
    /// been written to the socket, or has failed to be (the connection closed).
    private func write(_ frame: WireFrame, context: ChannelHandlerContext,
                       whenWritten: ((ConnectionHandler, ChannelHandlerContext) -> Void)? = nil) {
        guard let whenWritten else {
            context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
            return
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenComplete { _ in whenWritten(self, context) }
        context.writeAndFlush(wrapOutboundOut(frame), promise: promise)
    }

    // MARK: Events and errors

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ServerShutdownEvent {
            goAway(context: context, reason: "server shutting down")
        } else if event is IdleStateHandler.IdleStateEvent {
            idle(context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Nothing was read or written for the idle timeout.
    private func idle(context: ChannelHandlerContext) {
        // A connection waiting for its own replies (a big batch on a busy server) is not idle.
        guard handlersRunning == 0 else { return }
        if !openStreams.isEmpty {
            // A stream message unwritten for a whole idle period: the client does not read.
            // Otherwise the streams wait for something to send: not idle.
            if openStreams.values.contains(where: { $0.unwrittenMessages > 0 }) { close(context: context) }
            return
        }
        switch state {
        case .awaitingHandshake, .ready:
            // Replies unwritten for a whole idle period: the client does not read, so a GOAWAY
            // could not reach it either.
            if inFlight > 0 { close(context: context) } else { goAway(context: context, reason: "idle timeout") }
        case .draining, .closing:
            close(context: context)
        case .closed:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let wireError = error as? WireError {
            goAway(context: context, reason: wireError.description)
        } else if error is ByteToMessageDecoderError.PayloadTooLargeError {
            goAway(context: context, reason: "too much unframed data buffered")
        } else if let decoderError = error as? ByteToMessageDecoderError, case .dataReceivedInErrorState = decoderError {
            // Bytes after a framing error: the first error already asked for the GOAWAY.
        } else {
            close(context: context)
        }
    }

    // MARK: GOAWAY and close

    /// Stops reading and, once the requests already accepted are answered, says why (GOAWAY)
    /// and closes: used for every violation that cannot be recovered from, for shutdown and
    /// for idleness.
    private func goAway(context: ChannelHandlerContext, reason: String) {
        switch state {
        case .awaitingHandshake, .ready: break
        case .draining, .closing, .closed: return
        }
        handshakeTimer?.cancel()
        state = .draining(reason: reason)
        // Open streams end (each with its handler's final RESPONSE) before the GOAWAY.
        for stream in openStreams.values { stream.server.requestEnd() }
        sendGoAwayIfDrained(context: context)
    }

    /// Writes the GOAWAY when one is due and no reply is still to be written; closes once
    /// it has left, so that it is the last frame the client receives.
    private func sendGoAwayIfDrained(context: ChannelHandlerContext) {
        guard case .draining(let reason) = state, inFlight == 0 else { return }
        state = .closing
        var message = Meterd_V1_GoAway()
        message.reason = reason
        message.lastStreamID = lastStreamId
        let frame = WireFrame(type: .goAway, code: goAwayCode, payload: (try? ProtobufPayload.encode(message)) ?? ByteBuffer())
        write(frame, context: context) { connection, context in connection.close(context: context) }
    }

    private func close(context: ChannelHandlerContext) {
        if case .closed = state { return }
        state = .closed
        handshakeTimer?.cancel()
        context.close(promise: nil)
    }
}
