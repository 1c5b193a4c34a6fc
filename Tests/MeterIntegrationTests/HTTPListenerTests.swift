import Foundation
import MeterProto
import MeterTestSupport
import MeterWire
import XCTest

/// meterd's `--http` listener as a real process: started after the wire server with its API
/// keys, refused on a non-loopback address without TLS.
final class HTTPListenerTests: XCTestCase {
    func testHTTPListenerUsesTheServersKeys() throws {
        let server = try ServerProcess(self, arguments: ["--http", "127.0.0.1:0"])
        var port: Int?
        while port == nil, let line = server.child.nextLine() {
            if line.hasPrefix("meterd: http on http://127.0.0.1:") {
                port = Int(line.dropFirst("meterd: http on http://127.0.0.1:".count).prefix { $0.isNumber })
            }
        }
        let httpPort = try XCTUnwrap(port, "meterd printed no 'http on' line")
        let anonymous = try Self.request(port: httpPort, "GET /api/v1/meters", headers: [])
        XCTAssertTrue(anonymous.head.hasPrefix("HTTP/1.1 401"), anonymous.head)
        let body = #"{"eventName": "tokens_used", "displayName": "Tokens Used", "aggregation": "COUNT", "reset": "CUMULATIVE"}"#
        let created = try Self.request(port: httpPort, "POST /api/v1/meters",
                                       headers: ["Authorization: Bearer \(server.bootstrapKey)", "Content-Type: application/json"], body: body)
        XCTAssertTrue(created.head.hasPrefix("HTTP/1.1 201"), created.head + created.body)
        XCTAssertTrue(created.body.contains(#""id":"mtr_1""#), created.body)

        // An event over the binary protocol shows in the console's event debugger.
        let client = try RawWireClient(.unix(server.socketPath))
        _ = try client.handshake()
        var request = Meterd_V1_IngestRequest()
        request.event.eventID = "binary-evt-1"
        request.event.eventName = "tokens_used"
        request.event.customerID = "acme"
        request.event.timestampMs = Int64(Date().timeIntervalSince1970) * 1000
        let answer = try client.call(.ingest, request, as: Meterd_V1_IngestResponse.self).get()
        XCTAssertEqual(answer.result.status, .accepted)
        let debugger = try Self.request(port: httpPort, "GET /console/events", headers: ["Cookie: meterd_key=\(server.bootstrapKey)"])
        XCTAssertTrue(debugger.head.hasPrefix("HTTP/1.1 200"), debugger.head)
        XCTAssertTrue(debugger.body.contains("binary-evt-1"), debugger.body)
        XCTAssertTrue(debugger.body.contains("(binary)"), debugger.body)
        XCTAssertTrue(debugger.body.contains("Accepted: counted"), debugger.body)

        // Keys and audit: the bootstrap key, and the meter creation made over HTTP, audited as that key.
        let access = try Self.request(port: httpPort, "GET /console/access", headers: ["Cookie: meterd_key=\(server.bootstrapKey)"])
        XCTAssertTrue(access.head.hasPrefix("HTTP/1.1 200"), access.head)
        XCTAssertTrue(access.body.contains("bootstrap admin"), access.body)
        XCTAssertTrue(access.body.contains("<code>meter.create</code>"), access.body)
        XCTAssertTrue(access.body.contains("<td>key key_1</td>"), access.body)
        XCTAssertEqual(server.stop(), 0)
    }

    func testNonLoopbackHTTPAddressIsRefused() throws {
        let child = try ChildProcess("meterd", ["--data-dir", NSTemporaryDirectory() + "/never-\(UUID().uuidString.prefix(8))", "--no-tcp",
                                                "--socket", NSTemporaryDirectory() + "/never.sock", "--http", "0.0.0.0:7880"])
        let exit = child.wait()
        XCTAssertNotEqual(exit.status, 0)
        XCTAssertTrue(exit.errorOutput.contains("is not a loopback address and TLS is off"), exit.errorOutput)
    }

    /// One HTTP/1.1 request over a real TCP socket to 127.0.0.1, `Connection: close`; the head and body.
    static func request(port: Int, _ line: String, headers: [String], body: String = "") throws -> (head: String, body: String) {
        try HTTPRequest.send(port: port, line, headers: headers, body: body)
    }
}
