import MeterProto
import MeterWire
@testable import MeterWireServer
import NIOCore
import XCTest

/// Every frame rule of docs/protocol.md ("Protocol errors") is answered with a GOAWAY naming
/// it, as the last frame, and a close (issue 11, defect 7).
final class ConnectionHandlerProtocolTests: XCTestCase {
    /// Sends `bytes` and returns the GOAWAY reason; fails unless the GOAWAY is the only frame
    /// written and the connection is closed.
    private func goAwayReason(after bytes: [UInt8], harness: ConnectionHarness? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let harness = try harness ?? ConnectionHarness()
        try harness.send(bytes)
        let frames = try harness.writtenFrames()
        XCTAssertEqual(frames.map(\.type), [.goAway], file: file, line: line)
        XCTAssertTrue(harness.isClosed, "the connection stayed open", file: file, line: line)
        guard let last = frames.last, last.type == .goAway else { return "" }
        return try harness.goAway(last).reason
    }

    private func encoded(_ frames: WireFrame...) -> [UInt8] {
        var buffer = ByteBuffer()
        for frame in frames { FrameEncoder.write(frame, to: &buffer) }
        return Array(buffer.readableBytesView)
    }

    private func afterHandshake() throws -> ConnectionHarness {
        let harness = try ConnectionHarness()
        try harness.handshake()
        return harness
    }

    func testThePrefaceReservedFieldMustBeZero() throws {
        let reason = try goAwayReason(after: [0x4D, 0x54, 0x52, 0x44, 0, 1, 0, 7])
        XCTAssertTrue(reason.contains("reserved"), reason)
        XCTAssertTrue(reason.contains("7"), reason)
    }

    func testAHandshakeNeedsStreamIdZero() throws {
        let reason = try goAwayReason(after: WirePreface.bytes + encoded(try ConnectionHarness.handshakeFrame(streamId: 5)))
        XCTAssertTrue(reason.contains("HANDSHAKE needs stream id 0 and code 0"), reason)
    }

    func testAHandshakeNeedsCodeZero() throws {
        let reason = try goAwayReason(after: WirePreface.bytes + encoded(try ConnectionHarness.handshakeFrame(code: 3)))
        XCTAssertTrue(reason.contains("HANDSHAKE needs stream id 0 and code 0"), reason)
    }

    func testASecondHandshakeIsAProtocolError() throws {
        let harness = try afterHandshake()
        let reason = try goAwayReason(after: encoded(try ConnectionHarness.handshakeFrame()), harness: harness)
        XCTAssertTrue(reason.contains("second HANDSHAKE"), reason)
    }

    func testAPingNeedsCodeZero() throws {
        let harness = try afterHandshake()
        let ping = WireFrame(type: .ping, code: 1, streamId: 7, payload: ByteBuffer(bytes: [1, 2, 3, 4, 5, 6, 7, 8]))
        let reason = try goAwayReason(after: encoded(ping), harness: harness)
        XCTAssertTrue(reason.contains("PING needs code 0"), reason)
    }

    func testAGoodPingIsAnsweredWithItsPayload() throws {
        let harness = try afterHandshake()
        let payload = ByteBuffer(bytes: [1, 2, 3, 4, 5, 6, 7, 8])
        try harness.send(WireFrame(type: .ping, streamId: 7, payload: payload))
        XCTAssertEqual(try harness.writtenFrames(), [WireFrame(type: .pong, streamId: 7, payload: payload)])
        XCTAssertFalse(harness.isClosed)
    }

    func testServerOnlyFrameTypesFromAClientAreProtocolErrors() throws {
        for type in [FrameType.pong, .goAway, .response, .handshakeAck] {
            let harness = try afterHandshake()
            let reason = try goAwayReason(after: encoded(WireFrame(type: type, payload: ByteBuffer())), harness: harness)
            XCTAssertTrue(reason.contains("\(type.name) is a server-only frame type"), "\(type.name): \(reason)")
        }
        // Before the handshake as well.
        let reason = try goAwayReason(after: WirePreface.bytes + encoded(WireFrame(type: .goAway, payload: ByteBuffer())))
        XCTAssertTrue(reason.contains("GOAWAY is a server-only frame type"), reason)
    }

    func testAMaximumFrameSizeBelowTheProtocolMinimumIsRefusedAtTheHandshake() throws {
        let small = UInt32(WireLimits.minimumFrameBytes - 1)
        let reason = try goAwayReason(after: WirePreface.bytes + encoded(try ConnectionHarness.handshakeFrame(maximumFrameBytes: small)))
        XCTAssertTrue(reason.contains("below the protocol's minimum of 65536"), reason)
        // The minimum itself is accepted.
        let harness = try ConnectionHarness()
        try harness.handshake(maximumFrameBytes: UInt32(WireLimits.minimumFrameBytes))
        XCTAssertFalse(harness.isClosed)
    }

    func testNonZeroFlagsAreAProtocolError() throws {
        let harness = try afterHandshake()
        let flagged = WireFrame(type: .request, flags: 1, code: MethodID.healthCheck.rawValue, streamId: 1, payload: ByteBuffer())
        let reason = try goAwayReason(after: encoded(flagged), harness: harness)
        XCTAssertTrue(reason.contains("flags must be 0"), reason)
        XCTAssertEqual(harness.answers.count, 0, "a flagged request was dispatched")
    }

    func testARequestBeforeTheHandshakeIsAProtocolError() throws {
        let harness = try ConnectionHarness()
        let reason = try goAwayReason(after: WirePreface.bytes + encoded(harness.request(.healthCheck, streamId: 1)), harness: harness)
        XCTAssertTrue(reason.contains("the first frame must be a HANDSHAKE"), reason)
    }
}
