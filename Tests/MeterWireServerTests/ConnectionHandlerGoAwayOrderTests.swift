import MeterProto
import MeterWire
@testable import MeterWireServer
import NIOCore
import XCTest

/// GOAWAY is the server's last frame: after a protocol error, the requests already accepted
/// are answered first, then the GOAWAY goes out, then the connection closes (issue 11,
/// defect 6). Handlers answer when the test says so, so no test waits for time.
final class ConnectionHandlerGoAwayOrderTests: XCTestCase {
    private func encoded(_ frames: [WireFrame]) -> [UInt8] {
        var buffer = ByteBuffer()
        for frame in frames { FrameEncoder.write(frame, to: &buffer) }
        return Array(buffer.readableBytesView)
    }

    /// Two held requests, then `violation`; checks the order of everything written after.
    private func assertCoveredRepliesPrecedeGoAway(violation: [UInt8], reasonContains expected: String,
                                                   file: StaticString = #filePath, line: UInt = #line) throws {
        let harness = try ConnectionHarness()
        try harness.handshake()
        try harness.send(encoded([harness.request(.healthCheck, streamId: 1), harness.request(.healthCheck, streamId: 3)]))
        XCTAssertEqual(harness.answers.count, 2, file: file, line: line)
        // A request after the violation is never dispatched.
        try harness.send(violation + encoded([harness.request(.healthCheck, streamId: 5)]))
        XCTAssertEqual(try harness.writtenFrames(), [], "something was written before the covered replies", file: file, line: line)
        XCTAssertFalse(harness.isClosed, "closed before answering the accepted requests", file: file, line: line)

        harness.answers.answer(1)
        let afterFirst = try harness.writtenFrames()
        XCTAssertEqual(afterFirst.map(\.type), [.response], file: file, line: line)
        XCTAssertEqual(afterFirst.map(\.streamId), [3], file: file, line: line)
        XCTAssertFalse(harness.isClosed, file: file, line: line)

        harness.answers.answer(0)
        let afterSecond = try harness.writtenFrames()
        XCTAssertEqual(afterSecond.map(\.type), [.response, .goAway], file: file, line: line)
        XCTAssertEqual(afterSecond.first?.streamId, 1, file: file, line: line)
        XCTAssertTrue(harness.isClosed, "the connection stayed open after GOAWAY", file: file, line: line)
        XCTAssertEqual(harness.answers.count, 2, "a request sent after the violation was dispatched", file: file, line: line)
        if let last = afterSecond.last, last.type == .goAway {
            let message = try harness.goAway(last)
            XCTAssertTrue(message.reason.contains(expected), message.reason, file: file, line: line)
            XCTAssertEqual(message.lastStreamID, 3, file: file, line: line)
        }
    }

    func testNonZeroFlagsBehindTwoRequestsAnswerThemBeforeTheGoAway() throws {
        let flagged = WireFrame(type: .ping, flags: 1, streamId: 9, payload: ByteBuffer(bytes: [0, 0, 0, 0, 0, 0, 0, 0]))
        try assertCoveredRepliesPrecedeGoAway(violation: encoded([flagged]), reasonContains: "flags must be 0")
    }

    func testAnUnknownFrameTypeFromTheDecoderWaitsForTheCoveredReplies() throws {
        try assertCoveredRepliesPrecedeGoAway(violation: [0, 0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 0], reasonContains: "unknown frame type 99")
    }

    func testAServerOnlyFrameWaitsForTheCoveredReplies() throws {
        try assertCoveredRepliesPrecedeGoAway(violation: encoded([WireFrame(type: .pong, streamId: 9, payload: ByteBuffer())]),
                                              reasonContains: "PONG is a server-only frame type")
    }

    func testAStreamIdReusedWhileInFlightAnswersTheFirstBeforeTheGoAway() throws {
        let harness = try ConnectionHarness()
        try harness.handshake()
        try harness.send(harness.request(.healthCheck, streamId: 1))
        try harness.send(harness.request(.healthCheck, streamId: 1))
        XCTAssertEqual(try harness.writtenFrames(), [])
        XCTAssertEqual(harness.answers.count, 1)
        harness.answers.answer(0)
        let frames = try harness.writtenFrames()
        XCTAssertEqual(frames.map(\.type), [.response, .goAway])
        XCTAssertEqual(frames.first?.code, StatusCode.ok.rawValue)
        if let last = frames.last, last.type == .goAway {
            XCTAssertTrue(try harness.goAway(last).reason.contains("stream id 1 is already in flight"))
        }
        XCTAssertTrue(harness.isClosed)
    }

    func testShutdownAnswersInFlightRequestsBeforeTheGoAway() throws {
        let harness = try ConnectionHarness()
        try harness.handshake()
        try harness.send(harness.request(.healthCheck, streamId: 1))
        harness.channel.pipeline.fireUserInboundEventTriggered(ServerShutdownEvent())
        XCTAssertEqual(try harness.writtenFrames(), [])
        harness.answers.answer(0)
        let frames = try harness.writtenFrames()
        XCTAssertEqual(frames.map(\.type), [.response, .goAway])
        if let last = frames.last, last.type == .goAway {
            XCTAssertEqual(try harness.goAway(last).reason, "server shutting down")
        }
        XCTAssertTrue(harness.isClosed)
    }

    func testWithNothingInFlightTheGoAwayGoesOutAtOnce() throws {
        let harness = try ConnectionHarness()
        try harness.handshake()
        try harness.send(encoded([WireFrame(type: .request, flags: 2, code: 48, streamId: 1, payload: ByteBuffer())]))
        let frames = try harness.writtenFrames()
        XCTAssertEqual(frames.map(\.type), [.goAway])
        XCTAssertEqual(try frames.last.map { try harness.goAway($0).lastStreamID }, 0)
        XCTAssertTrue(harness.isClosed)
    }
}
