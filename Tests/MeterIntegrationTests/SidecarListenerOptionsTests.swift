import Foundation
import MeterProto
import MeterTestSupport
import MeterWire
import XCTest

/// meter-sidecar's listener options on the real executable: --max-connections,
/// --handshake-timeout-seconds and --idle-timeout-seconds, and their validation.
final class SidecarListenerOptionsTests: XCTestCase {
    private func goAwayThenClose(_ client: RawWireClient) throws -> String {
        let frame = try XCTUnwrap(try client.readFrame(), "closed without a GOAWAY")
        XCTAssertEqual(frame.type, .goAway)
        XCTAssertNil(try client.readFrame(), "the GOAWAY must be the last frame before the close")
        return client.goAwayReason(frame)
    }

    func testTheConnectionLimitAndBothTimeoutsAreTheOnesGiven() throws {
        let sidecar = try SidecarProcess(self, upstream: "unix:/nonexistent/meterd.sock", extraArguments: [
            "--max-connections", "2", "--handshake-timeout-seconds", "1", "--idle-timeout-seconds", "1",
        ])
        defer { _ = sidecar.stop() }
        let started = ContinuousClock.now
        let idle = try RawWireClient(.unix(sidecar.socketPath), timeoutSeconds: 10)
        try idle.handshake()
        let silent = try RawWireClient(.unix(sidecar.socketPath), timeoutSeconds: 10)
        try silent.send(WirePreface.bytes)
        // Both slots are taken: a third connection is refused at once.
        let third = try RawWireClient(.unix(sidecar.socketPath), timeoutSeconds: 10)
        XCTAssertTrue(try goAwayThenClose(third).hasPrefix("too many connections (limit 2)"))
        XCTAssertEqual(try goAwayThenClose(silent), "handshake timeout")
        XCTAssertEqual(try goAwayThenClose(idle), "idle timeout")
        // The defaults are 10 s and 300 s: the options took effect.
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(8))
    }

    func testNonPositiveValuesAreRefusedAtStart() throws {
        for option in ["--max-connections", "--handshake-timeout-seconds", "--idle-timeout-seconds"] {
            let child = try ChildProcess("meter-sidecar", [option, "0"])
            let exit = child.wait()
            XCTAssertNotEqual(exit.status, 0, option)
            XCTAssertTrue(exit.errorOutput.contains("\(option) must be positive"), "\(option): \(exit.errorOutput)")
        }
    }
}
