import MeterProto
import MeterWire
@testable import MeterWireServer
import NIOCore
import XCTest

/// The frame rules after the handshake that ConnectionHandlerProtocolTests does not cover, and
/// the request errors that leave the connection usable (docs/protocol.md, "Protocol errors",
/// "Request errors", "Limits", GOAWAY on the idle timeout).
final class ConnectionHandlerRequestRuleTests: XCTestCase {
    private func afterHandshake(maximumInFlight: Int = 64, configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> ConnectionHarness {
        let harness = try ConnectionHarness(maximumInFlight: maximumInFlight, configure: configure)
        try harness.handshake()
        return harness
    }

    func testARequestNeedsANonZeroStreamId() throws {
        let harness = try afterHandshake()
        let reason = try harness.goAwayReason(after: ConnectionHarness.encoded(harness.request(.healthCheck, streamId: 0)))
        XCTAssertEqual(reason, "a REQUEST needs a non-zero stream id")
        XCTAssertEqual(harness.answers.count, 0)
    }

    func testAPingNeedsANonZeroStreamId() throws {
        let harness = try afterHandshake()
        let ping = WireFrame(type: .ping, streamId: 0, payload: ByteBuffer(bytes: [1, 2, 3, 4, 5, 6, 7, 8]))
        XCTAssertEqual(try harness.goAwayReason(after: ConnectionHarness.encoded(ping)), "a PING needs a non-zero stream id")
    }

    func testAPingPayloadMustBeEightBytes() throws {
        for count in [0, 7, 9] {
            let harness = try afterHandshake()
            let ping = WireFrame(type: .ping, streamId: 1, payload: ByteBuffer(repeating: 1, count: count))
            XCTAssertEqual(try harness.goAwayReason(after: ConnectionHarness.encoded(ping)), "a PING needs an 8-byte payload, got \(count) bytes")
        }
    }

    func testAPayloadLongerThanTheConnectionsMaximumIsAProtocolError() throws {
        let harness = try afterHandshake { $0.limits.maximumFrameBytes = 65_536 }
        // Only the header: the length alone decides.
        var header = ByteBuffer()
        header.writeInteger(UInt32(65_537))
        header.writeBytes([FrameType.request.rawValue, 0])
        header.writeInteger(MethodID.healthCheck.rawValue)
        header.writeInteger(UInt32(1))
        XCTAssertEqual(try harness.goAwayReason(after: Array(header.readableBytesView)), "frame of 65537 bytes exceeds the limit of 65536")
        XCTAssertEqual(harness.answers.count, 0)
    }

    func testAnUnknownMethodIsAnsweredUnimplementedAndTheConnectionStaysUsable() throws {
        let harness = try afterHandshake()
        try harness.send(WireFrame(type: .request, code: 999, streamId: 1, payload: ByteBuffer()))
        let frames = try harness.writtenFrames()
        XCTAssertEqual(frames.map(\.type), [.response])
        XCTAssertEqual(frames.first?.code, StatusCode.unimplemented.rawValue)
        let detail = try ProtobufPayload.decode(Meterd_V1_ErrorDetail.self, from: try XCTUnwrap(frames.first).payload)
        XCTAssertEqual(detail.message, "unknown method id 999")
        try harness.send(harness.serverInfo(streamId: 3, replyBytes: 4))
        XCTAssertEqual(try harness.writtenFrames().map(\.code), [StatusCode.ok.rawValue])
        XCTAssertFalse(harness.isClosed)
    }

    func testRequestsBeyondTheInFlightCapAreRefusedUntilOneIsAnswered() throws {
        let harness = try afterHandshake(maximumInFlight: 2)
        try harness.send(ConnectionHarness.encoded(harness.request(.healthCheck, streamId: 1), harness.request(.healthCheck, streamId: 3),
                                                   harness.request(.healthCheck, streamId: 5)))
        XCTAssertEqual(harness.answers.count, 2, "the third request was dispatched")
        let refused = try harness.writtenFrames()
        XCTAssertEqual(refused.map(\.streamId), [5])
        XCTAssertEqual(refused.map(\.code), [StatusCode.resourceExhausted.rawValue])
        harness.answers.answer(0)
        XCTAssertEqual(try harness.writtenFrames().map(\.streamId), [1])
        try harness.send(harness.request(.healthCheck, streamId: 7))
        XCTAssertEqual(harness.answers.count, 3, "a freed slot was not reused")
        XCTAssertFalse(harness.isClosed)
    }

    func testAResponseLargerThanTheClientsMaximumIsReplacedByResourceExhausted() throws {
        let harness = try ConnectionHarness()
        try harness.handshake(maximumFrameBytes: UInt32(WireLimits.minimumFrameBytes))
        try harness.send(harness.serverInfo(streamId: 1, replyBytes: UInt32(WireLimits.minimumFrameBytes + 1)))
        try harness.send(harness.serverInfo(streamId: 3, replyBytes: UInt32(WireLimits.minimumFrameBytes)))
        let frames = try harness.writtenFrames()
        XCTAssertEqual(frames.map(\.streamId), [1, 3])
        XCTAssertEqual(frames.map(\.code), [StatusCode.resourceExhausted.rawValue, StatusCode.ok.rawValue])
        let detail = try ProtobufPayload.decode(Meterd_V1_ErrorDetail.self, from: frames[0].payload)
        XCTAssertTrue(detail.message.contains("exceeds the client's max_frame_bytes (65536)"), detail.message)
        XCTAssertEqual(frames[1].payload.readableBytes, WireLimits.minimumFrameBytes)
    }

    func testAnIdleConnectionWithNothingOwedIsToldGoAway() throws {
        let harness = try afterHandshake()
        try harness.send(harness.serverInfo(streamId: 9, replyBytes: 1))
        XCTAssertEqual(try harness.writtenFrames().count, 1)
        harness.channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.all)
        let goAway = try harness.onlyGoAway()
        XCTAssertEqual(goAway.reason, "idle timeout")
        XCTAssertEqual(goAway.lastStreamID, 9)
    }
}
