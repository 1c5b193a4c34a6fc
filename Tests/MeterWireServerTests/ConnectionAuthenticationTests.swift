import MeterProto
import MeterWire
@testable import MeterWireServer
import NIOCore
import NIOEmbedded
import XCTest

/// The connection's side of authentication: the identity an authenticator returns is what the
/// HandshakeAck states; a refusal with a status waits the authenticator's delay, then GOAWAY
/// with that status in its code and a close; one without a status is an immediate code-0 GOAWAY.
final class ConnectionAuthenticationTests: XCTestCase {
    struct FixedAuthenticator: ConnectionAuthenticating {
        let result: Result<ConnectionIdentity, HandshakeRefusal>
        func authenticate(_ handshake: Meterd_V1_Handshake, channel: any Channel) -> Result<ConnectionIdentity, HandshakeRefusal> { result }
        var refusalDelay: Duration { .seconds(2) }
    }

    static func harness(_ result: Result<ConnectionIdentity, HandshakeRefusal>) throws -> ConnectionHarness {
        try ConnectionHarness { $0.authenticator = FixedAuthenticator(result: result) }
    }

    func testTheIdentityIsWhatTheAcknowledgementStates() throws {
        let harness = try Self.harness(.success(ConnectionIdentity(tenantId: "acme", role: .ingest, name: "key key_7")))
        try harness.send(WirePreface.bytes)
        try harness.send(try ConnectionHarness.handshakeFrame())
        let frames = try harness.writtenFrames()
        XCTAssertEqual(frames.map(\.type), [.handshakeAck])
        let acknowledgement = try ProtobufPayload.decode(Meterd_V1_HandshakeAck.self, from: frames[0].payload)
        XCTAssertEqual(acknowledgement.tenantID, "acme")
        XCTAssertEqual(acknowledgement.role, .ingest)
        XCTAssertEqual(acknowledgement.principal, "key key_7")
    }

    func testRefusalWithAStatusIsDelayedThenGoAwayCarriesItThenClose() throws {
        let harness = try Self.harness(.failure(HandshakeRefusal(.unauthenticated, "unknown API key")))
        try harness.send(WirePreface.bytes)
        try harness.send(try ConnectionHarness.handshakeFrame())
        XCTAssertTrue(try harness.writtenFrames().isEmpty, "the refusal waits for the delay")
        harness.channel.embeddedEventLoop.advanceTime(by: .milliseconds(1999))
        XCTAssertTrue(try harness.writtenFrames().isEmpty)
        harness.channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        let frames = try harness.writtenFrames()
        XCTAssertEqual(frames.map(\.type), [.goAway])
        XCTAssertEqual(frames.first?.code, StatusCode.unauthenticated.rawValue)
        XCTAssertEqual(try ProtobufPayload.decode(Meterd_V1_GoAway.self, from: frames[0].payload).reason, "unknown API key")
        XCTAssertFalse(harness.channel.isActive)
    }

    func testRefusalWithoutAStatusIsAnImmediateProtocolGoAway() throws {
        let harness = try Self.harness(.failure(HandshakeRefusal(nil, "tenant id \"X\" is invalid")))
        try harness.send(WirePreface.bytes)
        try harness.send(try ConnectionHarness.handshakeFrame())
        let frames = try harness.writtenFrames()
        XCTAssertEqual(frames.map(\.type), [.goAway])
        XCTAssertEqual(frames.first?.code, 0)
    }
}
