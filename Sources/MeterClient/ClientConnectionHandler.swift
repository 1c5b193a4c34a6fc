import MeterProto
import MeterWire
import NIOCore
import SwiftProtobuf

/// What `MeterClient` asks its connection handler to do. Written into the channel from any thread.
enum ClientCommand: Sendable {
    /// Send a REQUEST and complete the promise with the matching RESPONSE frame.
    case call(OutgoingCall)
    /// Send a PING and complete the promise when the matching PONG arrives.
    case ping(promise: EventLoopPromise<Void>, timeout: TimeAmount)
    /// Send CANCEL for a server stream started with `.call` (ignored once it has ended).
    case cancelStream(ClientStreamHandle)
}

/// Names one server-streaming call so that its caller can cancel it. Touched only on the
/// channel's event loop after the call was written.
final class ClientStreamHandle: @unchecked Sendable {
    fileprivate var record: AnyObject?
    init() {}
}

/// One request the client wants sent.
struct OutgoingCall: Sendable {
    var method: MethodID
    var payload: ByteBuffer
    var promise: EventLoopPromise<WireFrame>
    var timeout: TimeAmount
    /// For a server-streaming call: receives each MESSAGE payload, on the event loop, in order.
    /// Such a call has no deadline; it ends with its RESPONSE (the promise) or a cancel.
    var onMessage: (@Sendable (ByteBuffer) -> Void)? = nil
    var streamHandle: ClientStreamHandle? = nil
}

/// The client end of one meterd connection: sits above the frame decoder and encoder.
///
/// It owns the table of calls in flight, all on the channel's event loop (so no locks):
/// it numbers requests with odd stream ids (1, 3, 5, ...), matches each RESPONSE to its call by
/// stream id whatever the order the replies come in, keeps at most the server's `max_in_flight`
/// requests outstanding (queueing the rest in order), enforces each call's deadline, answers
/// the server's PINGs, and on GOAWAY, a framing error or the connection closing fails every
/// call that can no longer be answered.
final class ClientConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = WireFrame
    typealias OutboundIn = ClientCommand
    typealias OutboundOut = WireFrame

    /// One call, from the moment the client asks for it until it is answered, fails or expires.
    private final class CallRecord {
        let call: OutgoingCall
        var streamId: UInt32 = 0
        var timer: Scheduled<Void>?
        /// Set when the call was answered, failed, expired or cancelled, so a queued copy is skipped.
        var isFinished = false

        init(call: OutgoingCall) {
            self.call = call
        }

        /// The promise was completed (here or by the caller cancelling): stop the timer.
        func markFinished() {
            isFinished = true
            timer?.cancel()
            timer = nil
        }

        func finish(_ result: Result<WireFrame, MeterClientError>) {
            guard !isFinished else { return }
            markFinished()
            switch result {
            case .success(let frame): call.promise.succeed(frame)
            case .failure(let error): call.promise.fail(error)
            }
        }
    }

    private var handshakePromise: EventLoopPromise<Meterd_V1_HandshakeAck>?
    private var maximumInFlight = WireLimits().maximumInFlight
    private var maximumFrameBytes = WireLimits().maximumFrameBytes
    private var nextStreamId: UInt32 = 1
    /// Requests sent and not yet answered, by stream id.
    private var inFlight: [UInt32: CallRecord] = [:]
    /// Requests whose deadline passed while the server still held them: they still occupy one
    /// of the server's in-flight slots until their (ignored) reply arrives.
    private var abandoned: Set<UInt32> = []
    /// Requests waiting for an in-flight slot, oldest first, from `waitingStart` on.
    private var waiting: [CallRecord] = []
    private var waitingStart = 0
    /// PINGs sent and not yet answered, by stream id.
    private var pings: [UInt32: (promise: EventLoopPromise<Void>, timer: Scheduled<Void>)] = [:]
    /// Once set, new calls fail at once with this error: the connection is going away.
    private var failure: MeterClientError?
    /// After the server's GOAWAY: the highest stream id it will still answer.
    private var lastStreamIdServerAnswers: UInt32?
    private var needsFlush = false
    /// The server understands CANCEL (HandshakeAck.server_streams); an older one would take it
    /// for a protocol error, and answers a streaming method UNIMPLEMENTED anyway.
    private var serverStreams = false

    init(handshakePromise: EventLoopPromise<Meterd_V1_HandshakeAck>) {
        self.handshakePromise = handshakePromise
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .call(let call):
            promise?.succeed(())
            startCall(call, context: context)
        case .ping(let pingPromise, let timeout):
            promise?.succeed(())
            startPing(pingPromise, timeout: timeout, context: context)
        case .cancelStream(let handle):
            promise?.succeed(())
            cancelStream(handle, context: context)
        }
    }

    /// The client is closing the connection (protocol.md: a client closes by closing its socket;
    /// GOAWAY is only sent by servers). Calls still waiting fail with a connection error.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if failure == nil {
            failure = .connection("the connection was closed by the client")
        }
        failWaiting()
        context.close(mode: mode, promise: promise)
    }

    private func startCall(_ call: OutgoingCall, context: ChannelHandlerContext) {
        if let failure {
            call.promise.fail(failure)
            return
        }
        if call.payload.readableBytes > maximumFrameBytes {
            call.promise.fail(MeterClientError.status(
                code: .invalidArgument,
                message: "the \(call.method) request is \(call.payload.readableBytes) bytes, over the server's frame limit of \(maximumFrameBytes) bytes",
                reason: ""))
            return
        }
        let record = CallRecord(call: call)
        // However the call ends (answered, failed, expired, or cancelled by the caller, who fails
        // the promise directly), the record learns of it here and stops its timer.
        call.promise.futureResult.assumeIsolated().whenComplete { _ in
            record.markFinished()
        }
        if record.isFinished {
            return  // cancelled by the caller before it got here
        }
        if let handle = call.streamHandle {
            handle.record = record
        } else {
            record.timer = context.eventLoop.assumeIsolated().scheduleTask(in: call.timeout) { [self] in
                self.expire(record)
            }
        }
        if outstandingCount < maximumInFlight {
            send(record, context: context)
        } else {
            waiting.append(record)
        }
    }

    private var outstandingCount: Int { inFlight.count + abandoned.count }

    /// The next odd stream id not held by an outstanding request or ping. Wraps from
    /// 0xFFFF_FFFF back to 1 (never 0) after two billion calls.
    private func allocateStreamId() -> UInt32 {
        var streamId = nextStreamId
        while inFlight[streamId] != nil || abandoned.contains(streamId) || pings[streamId] != nil {
            streamId &+= 2
        }
        nextStreamId = streamId &+ 2
        return streamId
    }

    private func send(_ record: CallRecord, context: ChannelHandlerContext) {
        let streamId = allocateStreamId()
        record.streamId = streamId
        inFlight[streamId] = record
        let frame = WireFrame(type: .request, code: record.call.method.rawValue, streamId: streamId, payload: record.call.payload)
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenFailure { [self] error in
            if let record = self.inFlight.removeValue(forKey: streamId) {
                record.finish(.failure(MeterClientError(error)))
            }
        }
        context.write(wrapOutboundOut(frame), promise: written)
        needsFlush = true
    }

    /// The caller stopped listening to a server stream: a stream still waiting for a slot is
    /// dropped; an open one gets CANCEL, and its final RESPONSE (CANCELLED) completes it.
    private func cancelStream(_ handle: ClientStreamHandle, context: ChannelHandlerContext) {
        guard let record = handle.record as? CallRecord, !record.isFinished else { return }
        handle.record = nil
        guard record.streamId != 0, inFlight[record.streamId] === record else {
            record.finish(.failure(.status(code: .cancelled, message: "cancelled before it was sent", reason: "")))
            return
        }
        guard serverStreams else { return }  // its RESPONSE (UNIMPLEMENTED) is on its way
        context.write(wrapOutboundOut(WireFrame(type: .cancel, streamId: record.streamId, payload: ByteBuffer())), promise: nil)
        needsFlush = true
    }

    private func startPing(_ promise: EventLoopPromise<Void>, timeout: TimeAmount, context: ChannelHandlerContext) {
        if let failure {
            promise.fail(failure)
            return
        }
        let streamId = allocateStreamId()
        let timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            if let ping = self.pings.removeValue(forKey: streamId) {
                ping.promise.fail(MeterClientError.deadlineExceeded)
            }
        }
        pings[streamId] = (promise, timer)
        // The payload is exactly 8 opaque bytes, echoed by the PONG: here the stream id, twice.
        var payload = context.channel.allocator.buffer(capacity: 8)
        payload.writeInteger(streamId)
        payload.writeInteger(streamId)
        context.write(wrapOutboundOut(WireFrame(type: .ping, streamId: streamId, payload: payload)), promise: nil)
        needsFlush = true
    }

    func flush(context: ChannelHandlerContext) {
        needsFlush = false
        context.flush()
    }

    /// A call's deadline passed: fail it, and remember that the server may still hold it.
    private func expire(_ record: CallRecord) {
        guard !record.isFinished else { return }
        if record.streamId != 0, inFlight[record.streamId] === record {
            inFlight.removeValue(forKey: record.streamId)
            abandoned.insert(record.streamId)
        }
        record.finish(.failure(.deadlineExceeded))
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.type {
        case .handshakeAck:
            receiveHandshakeAck(frame, context: context)
        case .response:
            receiveResponse(frame, context: context)
        case .ping:
            context.write(wrapOutboundOut(WireFrame(type: .pong, streamId: frame.streamId, payload: frame.payload)), promise: nil)
            needsFlush = true
        case .pong:
            if let ping = pings.removeValue(forKey: frame.streamId) {
                ping.timer.cancel()
                ping.promise.succeed(())
            }
        case .goAway:
            receiveGoAway(frame, context: context)
        case .message:
            // A stream's message; one for a call no longer waited for is ignored.
            if let record = inFlight[frame.streamId], let onMessage = record.call.onMessage {
                onMessage(frame.payload)
            }
        case .request, .handshake, .cancel:
            failConnection(.protocolViolation("the server sent a \(frame.type) frame, which only clients send"), context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            flush(context: context)
        }
        context.fireChannelReadComplete()
    }

    private func receiveHandshakeAck(_ frame: WireFrame, context: ChannelHandlerContext) {
        guard let promise = handshakePromise else {
            failConnection(.protocolViolation("the server sent a second HANDSHAKE_ACK"), context: context)
            return
        }
        handshakePromise = nil
        let ack: Meterd_V1_HandshakeAck
        do {
            ack = try ProtobufPayload.decode(Meterd_V1_HandshakeAck.self, from: frame.payload)
        } catch {
            let violation = MeterClientError.protocolViolation("cannot decode the HANDSHAKE_ACK: \(error)")
            promise.fail(violation)
            failConnection(violation, context: context)
            return
        }
        if ack.maxInFlight > 0 { maximumInFlight = Int(ack.maxInFlight) }
        if ack.maxFrameBytes > 0 { maximumFrameBytes = Int(ack.maxFrameBytes) }
        serverStreams = ack.serverStreams
        promise.succeed(ack)
    }

    private func receiveResponse(_ frame: WireFrame, context: ChannelHandlerContext) {
        if let record = inFlight.removeValue(forKey: frame.streamId) {
            record.finish(.success(frame))
        } else {
            // A reply to a call that timed out, or to nothing at all: either way, ignored.
            abandoned.remove(frame.streamId)
        }
        sendWaiting(context: context)
        if lastStreamIdServerAnswers != nil, inFlight.isEmpty {
            context.close(promise: nil)
        }
    }

    /// Sends queued calls while the server has in-flight slots free.
    private func sendWaiting(context: ChannelHandlerContext) {
        while waitingStart < waiting.count, outstandingCount < maximumInFlight {
            let record = waiting[waitingStart]
            waitingStart += 1
            // A call cancelled or expired while it waited is never sent.
            if !record.isFinished {
                send(record, context: context)
            }
        }
        if waitingStart == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingStart = 0
        } else if waitingStart > 1024, waitingStart * 2 > waiting.count {
            waiting.removeFirst(waitingStart)
            waitingStart = 0
        }
    }

    private func receiveGoAway(_ frame: WireFrame, context: ChannelHandlerContext) {
        let goAway = try? ProtobufPayload.decode(Meterd_V1_GoAway.self, from: frame.payload)
        let reason = goAway?.reason ?? ""
        let error: MeterClientError
        if frame.code != 0, frame.code != StatusCode.unavailable.rawValue {
            // A refusal such as UNAUTHENTICATED carries its status in the header's code field.
            error = .status(code: StatusCode(rawValue: frame.code), message: reason, reason: "")
        } else {
            error = .connection(reason.isEmpty ? "the server closed the connection" : "the server closed the connection: \(reason)")
        }
        if let promise = handshakePromise {
            // A GOAWAY instead of HANDSHAKE_ACK: the server refused the handshake.
            let refusal: MeterClientError
            if case .status = error {
                refusal = error
            } else {
                refusal = .connection(reason.isEmpty ? "the server refused the handshake" : "the server refused the handshake: \(reason)")
            }
            handshakePromise = nil
            promise.fail(refusal)
            failConnection(refusal, context: context)
            return
        }
        if failure == nil {
            failure = error
        }
        // Streams up to last_stream_id will still be answered; the others never will.
        let lastStreamId = goAway?.lastStreamID ?? 0
        lastStreamIdServerAnswers = lastStreamId
        for (streamId, record) in inFlight where streamId > lastStreamId {
            inFlight.removeValue(forKey: streamId)
            record.finish(.failure(error))
        }
        failWaiting()
        failPings(error)
        if inFlight.isEmpty {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failEverything(failure ?? .connection("the server closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failConnection(MeterClientError(error), context: context)
    }

    // MARK: Failing

    /// The connection is unusable: fail everything and close it.
    private func failConnection(_ error: MeterClientError, context: ChannelHandlerContext) {
        failEverything(error)
        context.close(promise: nil)
    }

    private func failEverything(_ error: MeterClientError) {
        if failure == nil {
            failure = error
        }
        let failure = self.failure ?? error
        if let promise = handshakePromise {
            handshakePromise = nil
            promise.fail(failure)
        }
        let records = inFlight.values
        inFlight.removeAll()
        for record in records {
            record.finish(.failure(failure))
        }
        failWaiting()
        failPings(failure)
    }

    private func failWaiting() {
        let error = failure ?? .connection("the connection is closing")
        let records = waiting[waitingStart...]
        waiting.removeAll()
        waitingStart = 0
        for record in records {
            record.finish(.failure(error))
        }
    }

    private func failPings(_ error: MeterClientError) {
        let pending = pings.values
        pings.removeAll()
        for ping in pending {
            ping.timer.cancel()
            ping.promise.fail(error)
        }
    }
}
