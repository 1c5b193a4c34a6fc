import Foundation
import MeterProto
import MeterTestSupport
import MeterWire
import NIOCore
import NIOPosix
import Synchronization

@testable import MeterClient

/// How the fake server behaves.
struct FakeServerOptions: Sendable {
    var maximumInFlight: UInt32 = 64
    var maximumBatchEvents: UInt32 = 10_000
    /// When set, every handshake is refused with a GOAWAY carrying this reason.
    var handshakeRefusal: String?
    /// When set, ordinary GetMeter replies are held until this many GetMeter requests are
    /// unanswered at once, then all are answered: a client that sends fewer at a time than this
    /// is caught (its group is released by `heldReplyTimeout` and counted as a timeout).
    var answerWhenOutstanding: Int?
    /// How long a group waits for `answerWhenOutstanding` before it is answered anyway.
    var heldReplyTimeout: TimeAmount = .seconds(2)
}

/// What the fake server saw, shared between its event loop and the test.
final class FakeServerRecord: Sendable {
    struct State {
        var handshakes: [Meterd_V1_Handshake] = []
        var handshakePayloads: [[UInt8]] = []
        var requestStreamIds: [UInt32] = []
        var pingStreamIds: [UInt32] = []
        var batchSizes: [Int] = []
        var mostOutstanding = 0
        /// Groups of held replies answered by `heldReplyTimeout` rather than by enough requests.
        var heldReplyTimeouts = 0
    }

    private let state = Mutex(State())
    /// Waiters for a number of requests, resumed once that many have arrived.
    private let requestWaiters = Mutex<[(count: Int, continuation: CheckedContinuation<Void, Never>)]>([])

    func update(_ body: (inout State) -> Void) {
        let requestCount = state.withLock { state in
            body(&state)
            return state.requestStreamIds.count
        }
        let ready = requestWaiters.withLock { waiters in
            let ready = waiters.filter { $0.count <= requestCount }
            waiters.removeAll { $0.count <= requestCount }
            return ready
        }
        for waiter in ready {
            waiter.continuation.resume()
        }
    }

    /// Returns once the server has received `count` requests (no polling, no sleeping).
    func waitForRequests(_ count: Int) async {
        await withCheckedContinuation { continuation in
            let alreadyThere = requestWaiters.withLock { waiters in
                if state.withLock({ $0.requestStreamIds.count }) >= count {
                    return true
                }
                waiters.append((count, continuation))
                return false
            }
            if alreadyThere {
                continuation.resume()
            }
        }
    }

    var snapshot: State { state.withLock { $0 } }
}

/// A tiny in-process meterd stand-in on a real Unix-domain socket.
///
/// GetMeter behaviour depends on the meter id asked for:
/// - `mtr_held_a` and `mtr_held_b` are held until both have arrived, then answered in the
///   reverse order of their arrival (so the later request is answered first);
/// - `mtr_missing` gets NOT_FOUND with an ErrorDetail;
/// - `mtr_silent` is never answered;
/// - `mtr_goaway` makes the server send GOAWAY (last_stream_id 0) and close;
/// - anything else gets a meter with that id and display name "answer to <id>".
/// IngestBatch answers every event ACCEPTED with the event id as the result's message.
final class FakeServer: Sendable {
    let socketPath: String
    let record: FakeServerRecord
    private let directory: TemporaryDirectory
    private let channel: any Channel

    static func start(options: FakeServerOptions = FakeServerOptions()) async throws -> FakeServer {
        let directory = try TemporaryDirectory("meterclient")
        let socketPath = directory.file("fake.sock")
        let record = FakeServerRecord()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(FrameDecoder(expectPreface: true, maximumFrameBytes: 4 << 20)),
                        MessageToByteHandler(FrameEncoder()),
                        FakeServerHandler(options: options, record: record),
                    ])
                }
            }
            .bind(unixDomainSocketPath: socketPath)
            .get()
        return FakeServer(socketPath: socketPath, directory: directory, channel: channel, record: record)
    }

    private init(socketPath: String, directory: TemporaryDirectory, channel: any Channel, record: FakeServerRecord) {
        self.socketPath = socketPath
        self.directory = directory
        self.channel = channel
        self.record = record
    }

    var address: MeterAddress { .unixSocket(path: socketPath) }

    func stop() async {
        try? await channel.close().get()
        directory.remove()
    }
}

/// One server-side connection of the fake server.
private final class FakeServerHandler: ChannelInboundHandler {
    typealias InboundIn = WireFrame
    typealias OutboundOut = WireFrame

    private let options: FakeServerOptions
    private let record: FakeServerRecord
    private var held: [(streamId: UInt32, meterId: String)] = []
    /// Ordinary GetMeter requests held for `answerWhenOutstanding`, and the group's number.
    private var grouped: [(streamId: UInt32, meterId: String)] = []
    private var groupNumber = 0
    private var outstanding = 0

    init(options: FakeServerOptions, record: FakeServerRecord) {
        self.options = options
        self.record = record
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.type {
        case .handshake:
            let handshake = try! ProtobufPayload.decode(Meterd_V1_Handshake.self, from: frame.payload)
            record.update {
                $0.handshakes.append(handshake)
                $0.handshakePayloads.append(Array(frame.payload.readableBytesView))
            }
            if let refusal = options.handshakeRefusal {
                goAway(reason: refusal, context: context)
                return
            }
            var acknowledgement = Meterd_V1_HandshakeAck()
            acknowledgement.protocolVersion = 1
            acknowledgement.serverVersion = "fake-1.0"
            acknowledgement.maxFrameBytes = 4 << 20
            acknowledgement.maxBatchEvents = options.maximumBatchEvents
            acknowledgement.maxInFlight = options.maximumInFlight
            acknowledgement.tenantID = handshake.tenantID.isEmpty ? "default" : handshake.tenantID
            send(WireFrame(type: .handshakeAck, payload: try! ProtobufPayload.encode(acknowledgement)), context: context)
        case .ping:
            record.update { $0.pingStreamIds.append(frame.streamId) }
            send(WireFrame(type: .pong, streamId: frame.streamId, payload: frame.payload), context: context)
        case .request:
            outstanding += 1
            let outstanding = self.outstanding
            record.update {
                $0.requestStreamIds.append(frame.streamId)
                $0.mostOutstanding = max($0.mostOutstanding, outstanding)
            }
            answer(frame, context: context)
        default:
            break
        }
    }

    private func answer(_ frame: WireFrame, context: ChannelHandlerContext) {
        switch MethodID(rawValue: frame.code) {
        case .getMeter:
            let request = try! ProtobufPayload.decode(Meterd_V1_GetMeterRequest.self, from: frame.payload)
            let meterId = request.meter.id
            switch meterId {
            case "mtr_held_a", "mtr_held_b":
                held.append((frame.streamId, meterId))
                if held.count == 2 {
                    for request in held.reversed() {
                        reply(meterId: request.meterId, streamId: request.streamId, context: context)
                    }
                    held.removeAll()
                }
            case "mtr_missing":
                var detail = Meterd_V1_ErrorDetail()
                detail.code = UInt32(StatusCode.notFound.rawValue)
                detail.message = "no meter has the id \"mtr_missing\""
                detail.reason = "METER_NOT_FOUND"
                respond(streamId: frame.streamId, status: .notFound, payload: try! ProtobufPayload.encode(detail), context: context)
            case "mtr_silent":
                break
            case "mtr_goaway":
                goAway(reason: "server shutting down", context: context)
            default:
                if let groupSize = options.answerWhenOutstanding {
                    grouped.append((frame.streamId, meterId))
                    if grouped.count == groupSize {
                        answerGroup(context: context)
                    } else if grouped.count == 1 {
                        let group = groupNumber
                        context.eventLoop.assumeIsolated().scheduleTask(in: options.heldReplyTimeout) {
                            guard self.groupNumber == group, !self.grouped.isEmpty else { return }
                            self.record.update { $0.heldReplyTimeouts += 1 }
                            self.answerGroup(context: context)
                        }
                    }
                } else {
                    reply(meterId: meterId, streamId: frame.streamId, context: context)
                }
            }
        case .ingestBatch:
            let request = try! ProtobufPayload.decode(Meterd_V1_IngestBatchRequest.self, from: frame.payload)
            record.update { $0.batchSizes.append(request.events.count) }
            var response = Meterd_V1_IngestBatchResponse()
            for event in request.events {
                var result = Meterd_V1_EventResult()
                result.status = .accepted
                result.outcome = .counted
                result.message = event.eventID
                response.results.append(result)
            }
            response.accepted = UInt32(request.events.count)
            respond(streamId: frame.streamId, status: .ok, payload: try! ProtobufPayload.encode(response), context: context)
        default:
            var detail = Meterd_V1_ErrorDetail()
            detail.code = UInt32(StatusCode.unimplemented.rawValue)
            detail.message = "the fake server does not implement method \(frame.code)"
            respond(streamId: frame.streamId, status: .unimplemented, payload: try! ProtobufPayload.encode(detail), context: context)
        }
    }

    private func answerGroup(context: ChannelHandlerContext) {
        let group = grouped
        grouped.removeAll()
        groupNumber += 1
        for request in group { reply(meterId: request.meterId, streamId: request.streamId, context: context) }
    }

    private func reply(meterId: String, streamId: UInt32, context: ChannelHandlerContext) {
        var response = Meterd_V1_GetMeterResponse()
        response.meter.id = meterId
        response.meter.definition.displayName = "answer to \(meterId)"
        respond(streamId: streamId, status: .ok, payload: try! ProtobufPayload.encode(response), context: context)
    }

    private func respond(streamId: UInt32, status: StatusCode, payload: ByteBuffer, context: ChannelHandlerContext) {
        outstanding -= 1
        send(WireFrame(type: .response, code: status.rawValue, streamId: streamId, payload: payload), context: context)
    }

    private func goAway(reason: String, context: ChannelHandlerContext) {
        var goAway = Meterd_V1_GoAway()
        goAway.reason = reason
        goAway.lastStreamID = 0
        context.writeAndFlush(wrapOutboundOut(WireFrame(type: .goAway, payload: try! ProtobufPayload.encode(goAway))), promise: nil)
        context.close(promise: nil)
    }

    private func send(_ frame: WireFrame, context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }
}
