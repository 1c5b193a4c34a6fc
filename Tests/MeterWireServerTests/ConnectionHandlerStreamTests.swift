import Foundation
import MeterProto
import MeterWire
@testable import MeterWireServer
import NIOCore
import XCTest

/// The server-stream rules of docs/protocol.md ("Server streams"): MESSAGE frames on the
/// REQUEST's stream id, ended by one RESPONSE; CANCEL ends a stream with CANCELLED and is
/// ignored for any other stream id; an open stream counts against the in-flight limit; a
/// message is written before the next is produced; draining ends open streams before the
/// GOAWAY. The harness's WatchNotifications handler does what each test says, with no clock.
final class ConnectionHandlerStreamTests: XCTestCase {
    private func cancel(_ streamId: UInt32, payload: [UInt8] = [], code: UInt16 = 0) -> WireFrame {
        WireFrame(type: .cancel, code: code, streamId: streamId, payload: ByteBuffer(bytes: payload))
    }

    /// Sends `payload` on `stream` and returns what its completion said (nil: not called yet).
    private func send(_ payload: [UInt8], on stream: ServerStream) -> WrittenFlag {
        let flag = WrittenFlag()
        stream.send(ByteBuffer(bytes: payload)) { written in flag.set(written) }
        return flag
    }

    func testMessagesGoOutOnTheStreamIdAndCancelEndsItWithCancelled() throws {
        let harness = try ConnectionHarness()
        try harness.handshake()
        try harness.send(harness.request(.watchNotifications, streamId: 5))
        XCTAssertEqual(harness.streams.count, 1)
        let stream = harness.streams[0]
        let first = send([1], on: stream)
        let second = send([2, 2], on: stream)
        let frames = try harness.writtenFrames()
        XCTAssertEqual(frames.map(\.type), [.message, .message])
        XCTAssertEqual(frames.map(\.streamId), [5, 5])
        XCTAssertEqual(frames.map { Array($0.payload.readableBytesView) }, [[1], [2, 2]])
        XCTAssertEqual(first.value, true)
        XCTAssertEqual(second.value, true)

        try harness.send(cancel(5))
        XCTAssertTrue(harness.streams.wasAskedToEnd(0), "CANCEL did not ask the handler to stop")
        XCTAssertEqual(send([3], on: stream).value, false, "a message was accepted after CANCEL")
        XCTAssertEqual(try harness.writtenFrames(), [], "the stream ended before its handler finished")
        // The handler's own OK is replaced by CANCELLED.
        stream.finish(RPCReply(status: .ok, payload: ByteBuffer()))
        let end = try harness.writtenFrames()
        XCTAssertEqual(end.map(\.type), [.response])
        XCTAssertEqual(end.first?.streamId, 5)
        XCTAssertEqual(end.first?.code, StatusCode.cancelled.rawValue)
        let detail = try ProtobufPayload.decode(Meterd_V1_ErrorDetail.self, from: end[0].payload)
        XCTAssertEqual(detail.code, UInt32(StatusCode.cancelled.rawValue))
        XCTAssertFalse(harness.isClosed)

        // The stream id is free again once the RESPONSE was written.
        try harness.send(harness.request(.watchNotifications, streamId: 5))
        XCTAssertEqual(harness.streams.count, 2)
        XCTAssertFalse(harness.isClosed, "reusing the ended stream id was taken for a protocol error")
    }

    func testAHandlerEndingItsStreamSendsItsOwnReply() throws {
        let harness = try ConnectionHarness()
        try harness.handshake()
        try harness.send(harness.request(.watchNotifications, streamId: 1))
        harness.streams[0].finish(RPCFailure(.notFound, "no such meter", reason: "METER_NOT_FOUND").reply)
        let frames = try harness.writtenFrames()
        XCTAssertEqual(frames.map(\.type), [.response])
        XCTAssertEqual(frames.first?.code, StatusCode.notFound.rawValue)
        XCTAssertFalse(harness.streams.wasAskedToEnd(0))
    }

    func testCancelForAStreamThatIsNotOpenIsIgnored() throws {
        let harness = try ConnectionHarness()
        try harness.handshake()
        // Never used.
        try harness.send(cancel(77))
        XCTAssertEqual(try harness.writtenFrames(), [])
        XCTAssertFalse(harness.isClosed)
        // A unary request in flight is not a stream: CANCEL leaves it alone.
        try harness.send(harness.request(.healthCheck, streamId: 3))
        try harness.send(cancel(3))
        XCTAssertEqual(try harness.writtenFrames(), [])
        harness.answers.answer(0)
        let unary = try harness.writtenFrames()
        XCTAssertEqual(unary.map(\.type), [.response])
        XCTAssertEqual(unary.first?.code, StatusCode.ok.rawValue)
        // A stream that already ended (the CANCEL crossed its RESPONSE).
        try harness.send(harness.request(.watchNotifications, streamId: 9))
        harness.streams[0].finish(RPCReply(status: .ok, payload: ByteBuffer()))
        XCTAssertEqual(try harness.writtenFrames().map(\.code), [StatusCode.ok.rawValue])
        try harness.send(cancel(9))
        try harness.send(cancel(9))
        XCTAssertEqual(try harness.writtenFrames(), [])
        XCTAssertFalse(harness.isClosed)
    }

    func testACancelBreakingTheHeaderRulesIsAProtocolError() throws {
        for (frame, expected) in [(cancel(0), "a CANCEL needs a non-zero stream id"),
                                  (cancel(1, payload: [0]), "a CANCEL needs an empty payload"),
                                  (cancel(1, code: 3), "a CANCEL needs code 0"),
                                  (WireFrame(type: .message, streamId: 1, payload: ByteBuffer()), "MESSAGE is a server-only frame type")] {
            let harness = try ConnectionHarness()
            try harness.handshake()
            try harness.send(frame)
            let frames = try harness.writtenFrames()
            XCTAssertEqual(frames.map(\.type), [.goAway], expected)
            let reason = try harness.goAway(frames[0]).reason
            XCTAssertTrue(reason.contains(expected), reason)
            XCTAssertTrue(harness.isClosed)
        }
        // Before the handshake, CANCEL is refused like any other frame.
        let early = try ConnectionHarness()
        try early.send(WirePreface.bytes)
        try early.send(cancel(1))
        XCTAssertTrue(try early.goAway(try XCTUnwrap(try early.writtenFrames().first)).reason.contains("the first frame must be a HANDSHAKE"))
    }

    func testAnOpenStreamCountsAgainstTheInFlightLimitUntilItsResponseIsWritten() throws {
        let harness = try ConnectionHarness(maximumInFlight: 2)
        try harness.handshake()
        try harness.send(harness.request(.watchNotifications, streamId: 1))
        try harness.send(harness.request(.watchNotifications, streamId: 3))
        try harness.send(harness.request(.healthCheck, streamId: 5))
        let refused = try harness.writtenFrames()
        XCTAssertEqual(refused.map(\.streamId), [5])
        XCTAssertEqual(refused.first?.code, StatusCode.resourceExhausted.rawValue)
        XCTAssertEqual(harness.streams.count, 2)

        // The final RESPONSE held in the socket: the stream still counts.
        harness.socket.holdsWrites = true
        try harness.send(cancel(1))
        harness.streams[0].finish(RPCReply(status: .ok, payload: ByteBuffer()))
        try harness.send(harness.request(.healthCheck, streamId: 7))
        XCTAssertEqual(harness.answers.count, 0, "a request was dispatched while both slots were taken")
        harness.socket.releaseWrites()
        let frames = try harness.writtenFrames()
        XCTAssertEqual(frames.map(\.streamId), [1, 7])
        XCTAssertEqual(frames.map(\.code), [StatusCode.cancelled.rawValue, StatusCode.resourceExhausted.rawValue])

        try harness.send(harness.request(.healthCheck, streamId: 9))
        XCTAssertEqual(harness.answers.count, 1, "the slot of the ended stream did not come back")
    }

    func testAMessageCompletesOnlyOnceWrittenToTheSocket() throws {
        let harness = try ConnectionHarness()
        try harness.handshake()
        try harness.send(harness.request(.watchNotifications, streamId: 1))
        harness.socket.holdsWrites = true
        let written = send([1, 2, 3], on: harness.streams[0])
        XCTAssertEqual(try harness.writtenFrames(), [])
        XCTAssertNil(written.value, "a message the client has not taken was reported written")
        harness.socket.releaseWrites()
        XCTAssertEqual(try harness.writtenFrames().map(\.type), [.message])
        XCTAssertEqual(written.value, true)
    }

    func testDrainingEndsOpenStreamsThenSendsTheGoAway() throws {
        let harness = try ConnectionHarness()
        try harness.handshake()
        try harness.send(harness.request(.watchNotifications, streamId: 1))
        try harness.send(harness.request(.watchNotifications, streamId: 3))
        harness.channel.pipeline.fireUserInboundEventTriggered(ServerShutdownEvent())
        XCTAssertTrue(harness.streams.wasAskedToEnd(0))
        XCTAssertTrue(harness.streams.wasAskedToEnd(1))
        XCTAssertEqual(try harness.writtenFrames(), [], "the GOAWAY went out before the open streams ended")
        XCTAssertEqual(send([1], on: harness.streams[0]).value, false)

        harness.streams[1].finish(RPCReply(status: .ok, payload: ByteBuffer(bytes: [8, 4])))
        XCTAssertEqual(try harness.writtenFrames().map(\.type), [.response])
        XCTAssertFalse(harness.isClosed)
        harness.streams[0].finish(RPCReply(status: .ok, payload: ByteBuffer(bytes: [8, 2])))
        let frames = try harness.writtenFrames()
        XCTAssertEqual(frames.map(\.type), [.response, .goAway])
        XCTAssertEqual(frames.first?.code, StatusCode.ok.rawValue, "draining ends a stream with its handler's OK, not CANCELLED")
        XCTAssertEqual(try harness.goAway(frames[1]).lastStreamID, 3)
        XCTAssertTrue(harness.isClosed)
    }

    func testAWaitingStreamIsNotIdleButAnUnreadOneIsClosed() throws {
        let harness = try ConnectionHarness()
        try harness.handshake()
        try harness.send(harness.request(.watchNotifications, streamId: 1))
        harness.channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.all)
        XCTAssertEqual(try harness.writtenFrames(), [])
        XCTAssertFalse(harness.isClosed, "a stream waiting for notifications was taken for idleness")

        harness.socket.holdsWrites = true
        _ = send([1], on: harness.streams[0])
        harness.channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.all)
        XCTAssertTrue(harness.isClosed, "a client that does not read its stream kept the connection past the idle timeout")
        XCTAssertTrue(harness.streams.wasAskedToEnd(0), "the closed connection's stream handler was not stopped")
    }

    func testAMessageOverTheClientsFrameLimitEndsTheStreamResourceExhausted() throws {
        let harness = try ConnectionHarness()
        try harness.handshake(maximumFrameBytes: UInt32(WireLimits.minimumFrameBytes))
        try harness.send(harness.request(.watchNotifications, streamId: 3))
        let oversized = send(Array(repeating: 7, count: WireLimits.minimumFrameBytes + 1), on: harness.streams[0])
        XCTAssertEqual(oversized.value, false)
        XCTAssertTrue(harness.streams.wasAskedToEnd(0))
        harness.streams[0].finish(RPCReply(status: .ok, payload: ByteBuffer()))
        let frames = try harness.writtenFrames()
        XCTAssertEqual(frames.map(\.type), [.response], "the oversized message was written")
        XCTAssertEqual(frames.first?.code, StatusCode.resourceExhausted.rawValue)
        XCTAssertFalse(harness.isClosed)
    }

    func testARefusedRoleEndsTheStreamAtOnce() throws {
        let harness = try ConnectionHarness(configure: { _ in })
        try harness.handshake()
        // The harness has no authorizer: the handler runs. A router with one refuses first.
        var router = Router()
        router.authorize = { _, _ in RPCFailure(.permissionDenied, "no").reply }
        router.registerStreaming(.watchNotifications) { _, _, _ in XCTFail("the handler ran despite the refusal") }
        let handler = try XCTUnwrap(router.streamingHandler(for: MethodID.watchNotifications.rawValue))
        let reply = ReplyBox()
        let stream = ServerStream(writeMessage: { _, done in done(false) }, finishCall: { reply.set($0.status) })
        handler(ByteBuffer(), RequestContext(tenantId: "t", identity: ConnectionIdentity(tenantId: "t", role: .read, name: "test")), stream)
        XCTAssertEqual(reply.value, .permissionDenied)
        XCTAssertNil(router.handler(for: MethodID.watchNotifications.rawValue), "a streaming method was also routed as unary")
    }
}

final class WrittenFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Bool?
    func set(_ value: Bool) { lock.withLock { stored = value } }
    var value: Bool? { lock.withLock { stored } }
}

final class ReplyBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: StatusCode?
    func set(_ value: StatusCode) { lock.withLock { stored = value } }
    var value: StatusCode? { lock.withLock { stored } }
}
