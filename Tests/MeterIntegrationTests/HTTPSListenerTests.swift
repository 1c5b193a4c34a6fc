import Foundation
import MeterTestSupport
import XCTest

/// `--http` with the TCP listener's certificate serves HTTPS: curl verifies meterd against the
/// CA, a plaintext request gets no HTTP answer, the console's cookie is `Secure`, a
/// non-loopback address is allowed once TLS is on, and with `--tls-client-ca` a client
/// without a certificate is refused.
final class HTTPSListenerTests: XCTestCase {
    private func httpsPort(_ server: ServerProcess) throws -> Int {
        var port: Int?
        while port == nil, let line = server.child.nextLine() {
            if let range = line.range(of: "meterd: http on https://") {
                let rest = line[range.upperBound...]
                port = Int(rest.drop { $0 != ":" }.dropFirst().prefix { $0.isNumber })
            }
        }
        return try XCTUnwrap(port, "meterd printed no 'http on https://' line")
    }

    private func curl(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try ChildProcessRunner.run("/usr/bin/curl", ["--silent", "--show-error", "--max-time", "20"] + arguments)
    }

    func testHTTPSWithTheTCPCertificateAndASecureConsoleCookie() throws {
        let files = try TLSTests.makeCertificates(removedBy: { addTeardownBlock($0) })
        let server = try ServerProcess(self, arguments: ["--tls-certificate", files.serverCertificate, "--tls-key", files.serverKey,
                                                         "--http", "127.0.0.1:0"])
        let port = try httpsPort(server)
        let url = "https://127.0.0.1:\(port)"

        let meters = try curl(["--cacert", files.ca, "-H", "Authorization: Bearer \(server.bootstrapKey)", "-w", "\n%{http_code}", "\(url)/api/v1/meters"])
        XCTAssertEqual(meters.status, 0, meters.output)
        XCTAssertTrue(meters.output.hasSuffix("\n200"), meters.output)
        XCTAssertTrue(meters.output.hasPrefix(#"{"items":["#), meters.output)

        // A certificate from another CA is not trusted.
        let untrusted = try curl(["--cacert", files.otherCA, "\(url)/api/v1/meters"])
        XCTAssertNotEqual(untrusted.status, 0, untrusted.output)

        // Signing in to the console over HTTPS sets a Secure cookie.
        let signIn = try curl(["--cacert", files.ca, "--include", "--data-urlencode", "api_key=\(server.bootstrapKey)", "\(url)/console/sign-in"])
        XCTAssertEqual(signIn.status, 0, signIn.output)
        let cookie = try XCTUnwrap(signIn.output.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie: meterd_key=") }, signIn.output)
        XCTAssertTrue(cookie.hasSuffix("; Secure"), String(cookie))

        // Plain HTTP to the HTTPS port gets no HTTP response.
        let plain = try? HTTPRequest.send(port: port, "GET /api/v1/meters", headers: ["Authorization: Bearer \(server.bootstrapKey)"])
        XCTAssertFalse(plain?.head.hasPrefix("HTTP/1.1 200") ?? false, plain?.head ?? "")
        XCTAssertEqual(server.stop(), 0)
    }

    func testMutualTLSOnHTTPAndANonLoopbackAddressOnceTLSIsOn() throws {
        let files = try TLSTests.makeCertificates(removedBy: { addTeardownBlock($0) })
        let server = try ServerProcess(self, arguments: ["--tls-certificate", files.serverCertificate, "--tls-key", files.serverKey,
                                                         "--tls-client-ca", files.ca, "--http", "0.0.0.0:0"])
        let port = try httpsPort(server)
        let url = "https://127.0.0.1:\(port)/api/v1/meters"
        let bearer = ["-H", "Authorization: Bearer \(server.bootstrapKey)"]
        let withoutCertificate = try curl(["--cacert", files.ca, "-o", "/dev/null", "-w", "%{http_code}"] + bearer + [url])
        XCTAssertFalse(withoutCertificate.status == 0 && withoutCertificate.output == "200", withoutCertificate.output)
        let withCertificate = try curl(["--cacert", files.ca, "--cert", files.clientCertificate, "--key", files.clientKey,
                                        "-o", "/dev/null", "-w", "%{http_code}"] + bearer + [url])
        XCTAssertEqual(withCertificate.status, 0, withCertificate.output)
        XCTAssertEqual(withCertificate.output, "200")
        XCTAssertEqual(server.stop(), 0)
    }
}
