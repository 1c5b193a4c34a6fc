import XCTest

@testable import MeterClient

final class MeterAddressTests: XCTestCase {
    func testUnixSocketForms() {
        XCTAssertEqual(MeterAddress(parsing: "unix:/run/meterd.sock"), .unixSocket(path: "/run/meterd.sock"))
        XCTAssertEqual(MeterAddress(parsing: "unix:meterd"), .unixSocket(path: "meterd"))
        XCTAssertEqual(MeterAddress(parsing: "./meterd.sock"), .unixSocket(path: "./meterd.sock"))
        XCTAssertEqual(MeterAddress(parsing: "/var/run/meterd"), .unixSocket(path: "/var/run/meterd"))
        XCTAssertEqual(MeterAddress(parsing: "meterd.sock"), .unixSocket(path: "meterd.sock"))
        XCTAssertNil(MeterAddress(parsing: "unix:"))
    }

    func testTcpForms() {
        XCTAssertEqual(MeterAddress(parsing: "localhost:7070"), .tcp(host: "localhost", port: 7070))
        XCTAssertEqual(MeterAddress(parsing: "10.0.0.5:1"), .tcp(host: "10.0.0.5", port: 1))
        XCTAssertEqual(MeterAddress(parsing: "tcp:example.com:65535"), .tcp(host: "example.com", port: 65_535))
        XCTAssertEqual(MeterAddress(parsing: "[::1]:7070"), .tcp(host: "::1", port: 7070))
    }

    func testRejectedForms() {
        for text in ["", "localhost", "localhost:", ":7070", "host:0", "host:65536", "host:70a", "host:-1", "::1:7070", "[]:80", "a b:80"] {
            XCTAssertNil(MeterAddress(parsing: text), text)
        }
    }

    func testDescriptionParsesBack() {
        for address: MeterAddress in [.unixSocket(path: "./meterd.sock"), .tcp(host: "localhost", port: 7070), .tcp(host: "::1", port: 80)] {
            XCTAssertEqual(MeterAddress(parsing: address.description), address)
        }
    }
}
