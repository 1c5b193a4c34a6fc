import Foundation
import MeterClient
import MeterProto
import MeterTestSupport
import MeterWire
import XCTest
@testable import MeterSidecar

/// The sidecar's listener is the shared wire-server core: its handshake timeout, idle timeout,
/// connection limit and tenant rule, over a real Unix socket (meterd absent upstream).
final class SidecarListenerTests: XCTestCase {
    private func startSidecar(_ adjust: (inout SidecarConfiguration) -> Void) async throws -> Sidecar {
        let directory = try TemporaryDirectory("sidecar-listener", removedBy: { addTeardownBlock($0) })
        var configuration = SidecarConfiguration(listenPath: directory.file("sidecar.sock"), upstream: .unixSocket(path: directory.file("absent.sock")),
                                                 spoolDirectory: directory.file("spool"))
        configuration.shutdownTimeout = .milliseconds(100)
        adjust(&configuration)
        let sidecar = try Sidecar(configuration: configuration)
        try await sidecar.start()
        return sidecar
    }

    private func goAwayThenClose(_ client: RawWireClient) throws -> String {
        let frame = try XCTUnwrap(try client.readFrame(), "closed without a GOAWAY")
        XCTAssertEqual(frame.type, .goAway)
        XCTAssertNil(try client.readFrame(), "the GOAWAY must be the last frame before the close")
        return client.goAwayReason(frame)
    }

    func testAClientThatNeverHandshakesIsToldGoAwayAtTheHandshakeTimeout() async throws {
        let sidecar = try await startSidecar { $0.handshakeTimeout = .milliseconds(200) }
        let client = try RawWireClient(.unix(sidecar.configuration.listenPath), timeoutSeconds: 5)
        try client.send(WirePreface.bytes)
        XCTAssertEqual(try goAwayThenClose(client), "handshake timeout")
        _ = await sidecar.shutdown()
    }

    func testAnIdleClientIsToldGoAwayAndClosed() async throws {
        let sidecar = try await startSidecar { $0.idleTimeout = .milliseconds(300) }
        let client = try RawWireClient(.unix(sidecar.configuration.listenPath), timeoutSeconds: 5)
        try client.handshake()
        XCTAssertEqual(try goAwayThenClose(client), "idle timeout")
        _ = await sidecar.shutdown()
    }

    func testConnectionsBeyondTheLimitAreRefusedWhileTheOthersAreServed() async throws {
        let sidecar = try await startSidecar { $0.maximumConnections = 1 }
        let first = try RawWireClient(.unix(sidecar.configuration.listenPath), timeoutSeconds: 5)
        try first.handshake()
        let second = try RawWireClient(.unix(sidecar.configuration.listenPath), timeoutSeconds: 5)
        XCTAssertTrue(try goAwayThenClose(second).hasPrefix("too many connections (limit 1)"))
        let health = try first.call(.healthCheck, Meterd_V1_HealthCheckRequest(), as: Meterd_V1_HealthCheckResponse.self).get()
        XCTAssertEqual(health.status, .serving)
        _ = await sidecar.shutdown()
    }

    func testAHandshakeForAnotherTenantIsRefused() async throws {
        let sidecar = try await startSidecar { $0.tenantId = "acme" }
        let client = try RawWireClient(.unix(sidecar.configuration.listenPath), timeoutSeconds: 5)
        XCTAssertThrowsError(try client.handshake(tenant: "globex")) { error in
            XCTAssertTrue("\(error)".contains("serves tenant \"acme\" only, not \"globex\""), "\(error)")
        }
        let named = try RawWireClient(.unix(sidecar.configuration.listenPath), timeoutSeconds: 5)
        XCTAssertEqual(try named.handshake(tenant: "acme").tenantID, "acme")
        let unnamed = try RawWireClient(.unix(sidecar.configuration.listenPath), timeoutSeconds: 5)
        XCTAssertEqual(try unnamed.handshake(tenant: "").tenantID, "acme")
        _ = await sidecar.shutdown()
    }

    func testTheHandshakeAcknowledgementAnnouncesTheSidecarsLimitsAndVersion() async throws {
        let sidecar = try await startSidecar { $0.limits.maximumInFlight = 3 }
        let client = try RawWireClient(.unix(sidecar.configuration.listenPath), timeoutSeconds: 5)
        let acknowledgement = try client.handshake(maximumFrameBytes: UInt32(WireLimits.minimumFrameBytes))
        XCTAssertEqual(acknowledgement.maxInFlight, 3)
        XCTAssertEqual(acknowledgement.serverVersion, "meter-sidecar \(Sidecar.version)")
        _ = await sidecar.shutdown()
    }
}
