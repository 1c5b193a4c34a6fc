import MeterProto
import MeterWire
@testable import MeterWireServer
import NIOCore
import XCTest

/// A client that does not read its replies cannot grow the server's memory: reading stops
/// while the channel is unwritable, and a reply counts against the in-flight limit until it
/// has been written out (issue 11, defect 2). The live-socket version is in
/// MeterIntegrationTests (ServerSlowReaderTests).
final class ConnectionHandlerBackPressureTests: XCTestCase {
    func testReadsAreHeldWhileTheChannelIsUnwritable() throws {
        let harness = try ConnectionHarness()
        try harness.handshake()
        harness.channel.read()
        XCTAssertEqual(harness.socket.readCount, 1)

        harness.channel.isWritable = false
        harness.channel.pipeline.fireChannelWritabilityChanged()
        harness.channel.read()
        XCTAssertEqual(harness.socket.readCount, 1, "read while the output is over its high water mark")

        harness.channel.isWritable = true
        harness.channel.pipeline.fireChannelWritabilityChanged()
        XCTAssertEqual(harness.socket.readCount, 2, "the held read was not issued once writable again")
        harness.channel.read()
        XCTAssertEqual(harness.socket.readCount, 3)
    }

    func testNothingIsReadAfterAProtocolErrorWhileRepliesAreOwed() throws {
        let harness = try ConnectionHarness()
        try harness.handshake()
        try harness.send(harness.request(.healthCheck, streamId: 1))
        try harness.send(WireFrame(type: .goAway, payload: ByteBuffer()))
        let readsBefore = harness.socket.readCount
        harness.channel.read()
        XCTAssertEqual(harness.socket.readCount, readsBefore, "read after a protocol error")
    }

    /// `ServerInfo` in the harness answers at once with as many bytes as the request asks for.
    private func serverInfo(streamId: UInt32, replyBytes: UInt32, harness: ConnectionHarness) -> WireFrame {
        var size = ByteBuffer()
        size.writeInteger(replyBytes)
        return harness.request(.serverInfo, streamId: streamId, payload: Array(size.readableBytesView))
    }

    func testARepliedButUnwrittenRequestStillCountsAgainstTheInFlightLimit() throws {
        let harness = try ConnectionHarness(maximumInFlight: 2)
        try harness.handshake()
        harness.socket.holdsWrites = true
        try harness.send(serverInfo(streamId: 1, replyBytes: 100_000, harness: harness))
        try harness.send(serverInfo(streamId: 3, replyBytes: 100_000, harness: harness))
        // Both answered; their replies sit unwritten (the client does not read).
        try harness.send(serverInfo(streamId: 5, replyBytes: 100_000, harness: harness))
        XCTAssertEqual(try harness.writtenFrames(), [])

        harness.socket.releaseWrites()
        let frames = try harness.writtenFrames()
        XCTAssertEqual(frames.map(\.streamId), [1, 3, 5])
        XCTAssertEqual(frames.map(\.code), [StatusCode.ok.rawValue, StatusCode.ok.rawValue, StatusCode.resourceExhausted.rawValue])
        XCTAssertEqual(frames.prefix(2).map(\.payload.readableBytes), [100_000, 100_000])

        // Written out, the replies free their slots.
        try harness.send(serverInfo(streamId: 7, replyBytes: 10, harness: harness))
        let after = try harness.writtenFrames()
        XCTAssertEqual(after.map(\.code), [StatusCode.ok.rawValue])
        XCTAssertEqual(after.map(\.streamId), [7])
    }

    func testAStreamIdIsFreeAgainOnceItsReplyIsWritten() throws {
        let harness = try ConnectionHarness()
        try harness.handshake()
        try harness.send(serverInfo(streamId: 1, replyBytes: 10, harness: harness))
        try harness.send(serverInfo(streamId: 1, replyBytes: 10, harness: harness))
        XCTAssertEqual(try harness.writtenFrames().map(\.type), [.response, .response])
        XCTAssertFalse(harness.isClosed)
    }

    func testAConnectionWhoseRepliesStayUnwrittenForAnIdlePeriodIsClosed() throws {
        let harness = try ConnectionHarness()
        try harness.handshake()
        harness.socket.holdsWrites = true
        try harness.send(serverInfo(streamId: 1, replyBytes: 1000, harness: harness))
        harness.channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.all)
        XCTAssertTrue(harness.isClosed, "a client that does not read kept its connection past the idle timeout")
    }

    func testAConnectionWaitingForItsOwnRepliesIsNotIdle() throws {
        let harness = try ConnectionHarness()
        try harness.handshake()
        try harness.send(harness.request(.healthCheck, streamId: 1))
        harness.channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.all)
        XCTAssertFalse(harness.isClosed)
        harness.answers.answer(0)
        XCTAssertEqual(try harness.writtenFrames().map(\.type), [.response])
        harness.channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.all)
        let frames = try harness.writtenFrames()
        XCTAssertEqual(frames.map(\.type), [.goAway])
        XCTAssertEqual(try frames.last.map { try harness.goAway($0).reason }, "idle timeout")
        XCTAssertTrue(harness.isClosed)
    }
}
