import MeterProto
import MeterWire
@testable import MeterWireServer
import NIOCore
import XCTest

/// The preface and handshake rules of docs/protocol.md ("Connection"): a wrong preface, an
/// undecodable or refused HANDSHAKE, and the handshake timeout end in a GOAWAY naming the
/// reason, then a close; an accepted one is acknowledged with the connection's limits.
final class ConnectionHandlerHandshakeTests: XCTestCase {
    func testAWrongPrefaceIsNotAMeterdClient() throws {
        let harness = try ConnectionHarness()
        XCTAssertEqual(try harness.goAwayReason(after: Array("GET / HTTP/1.1\r\n".utf8)), "bad preface: not a meterd client")
    }

    func testAPrefaceOfAnotherVersionNamesBothVersions() throws {
        let harness = try ConnectionHarness()
        let reason = try harness.goAwayReason(after: [0x4D, 0x54, 0x52, 0x44, 0, 2, 0, 0])
        XCTAssertEqual(reason, "unsupported protocol version 2 (this server speaks 1)")
    }

    func testAHandshakeOfAnotherProtocolVersionIsRefused() throws {
        let harness = try ConnectionHarness()
        let frame = try ConnectionHarness.handshakeFrame(protocolVersion: 9)
        let reason = try harness.goAwayReason(after: WirePreface.bytes + ConnectionHarness.encoded(frame))
        XCTAssertTrue(reason.contains("unsupported protocol version 9"), reason)
    }

    func testAHandshakeWhosePayloadDoesNotDecodeIsRefused() throws {
        let harness = try ConnectionHarness()
        let garbage = WireFrame(type: .handshake, payload: ByteBuffer(bytes: [0xFF, 0xFF, 0xFF]))
        let reason = try harness.goAwayReason(after: WirePreface.bytes + ConnectionHarness.encoded(garbage))
        XCTAssertTrue(reason.hasPrefix("the HANDSHAKE payload does not decode"), reason)
    }

    func testATenantTheAdmissionRefusesIsRefusedWithItsReason() throws {
        let harness = try ConnectionHarness { $0.tenantAdmission = .only("acme", server: "test server") }
        let frame = try ConnectionHarness.handshakeFrame(tenantId: "globex")
        let reason = try harness.goAwayReason(after: WirePreface.bytes + ConnectionHarness.encoded(frame))
        XCTAssertEqual(reason, "this test server serves tenant \"acme\" only, not \"globex\"")
    }

    func testTheAcknowledgementStatesTheTenantAndTheLimits() throws {
        let harness = try ConnectionHarness(maximumInFlight: 5) {
            $0.limits.maximumFrameBytes = 100_000
            $0.limits.maximumBatchEvents = 77
            $0.serverVersion = "test 1"
        }
        try harness.send(WirePreface.bytes)
        try harness.send(try ConnectionHarness.handshakeFrame())
        let frames = try harness.writtenFrames()
        XCTAssertEqual(frames.map(\.type), [.handshakeAck])
        let acknowledgement = try ProtobufPayload.decode(Meterd_V1_HandshakeAck.self, from: try XCTUnwrap(frames.first).payload)
        XCTAssertEqual(acknowledgement.tenantID, "default", "an empty tenant means default")
        XCTAssertEqual(acknowledgement.maxInFlight, 5)
        XCTAssertEqual(acknowledgement.maxFrameBytes, 100_000)
        XCTAssertEqual(acknowledgement.maxBatchEvents, 77)
        XCTAssertEqual(acknowledgement.serverVersion, "test 1")
        XCTAssertEqual(acknowledgement.protocolVersion, 1)
    }

    func testAConnectionWithoutAHandshakeIsToldGoAwayAtTheHandshakeTimeout() throws {
        let harness = try ConnectionHarness { $0.handshakeTimeout = .seconds(10) }
        try harness.send(WirePreface.bytes)
        harness.channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        XCTAssertEqual(try harness.writtenFrames(), [])
        XCTAssertFalse(harness.isClosed)
        harness.channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        XCTAssertEqual(try harness.onlyGoAway().reason, "handshake timeout")
    }

    func testAHandshakeInTimeCancelsTheTimeout() throws {
        let harness = try ConnectionHarness { $0.handshakeTimeout = .seconds(10) }
        try harness.handshake()
        harness.channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        XCTAssertEqual(try harness.writtenFrames(), [])
        XCTAssertFalse(harness.isClosed)
    }
}
