import Foundation
import MeterClient
import MeterProto
import MeterTestSupport
import XCTest

/// TLS on meterd's TCP listener with a CA and certificates made here by the openssl CLI:
/// meterctl verifies the server against the CA, a plaintext client gets nothing, mutual TLS
/// refuses a client without a certificate, and plaintext TCP on a non-loopback address is
/// refused at start.
final class TLSTests: XCTestCase {
    /// A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA.
    struct Certificates {
        let directory: String
        var ca: String { directory + "/ca.pem" }
        var serverCertificate: String { directory + "/server.pem" }
        var serverKey: String { directory + "/server.key" }
        var clientCertificate: String { directory + "/client.pem" }
        var clientKey: String { directory + "/client.key" }
        var otherCA: String { directory + "/other-ca.pem" }
    }

    static func openssl(_ arguments: [String], in directory: String) throws {
        let result = try ChildProcessRunner.run("/usr/bin/openssl", arguments, environment: ["OPENSSL_CONF": "/dev/null"])
        guard result.status == 0 else { throw RawClientError("openssl \(arguments.joined(separator: " ")): \(result.output)") }
    }

    func makeCertificates() throws -> Certificates {
        try Self.makeCertificates(removedBy: { addTeardownBlock($0) })
    }

    /// The certificates in a new directory that `register` removes (the calling test's teardown).
    static func makeCertificates(removedBy register: (@escaping () -> Void) -> Void) throws -> Certificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterd-tls-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        register { try? FileManager.default.removeItem(atPath: directory) }
        let files = Certificates(directory: directory)
        let d = directory
        for (name, subject) in [("ca", "/CN=meterd test CA"), ("other-ca", "/CN=another CA")] {
            try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                              "-subj", subject, "-keyout", "\(d)/\(name).key", "-out", "\(d)/\(name).pem",
                              "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"], in: d)
        }
        for (name, extensions) in [("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"),
                                   ("client", "extendedKeyUsage=clientAuth")] {
            try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=\(name)",
                              "-keyout", "\(d)/\(name).key", "-out", "\(d)/\(name).csr"], in: d)
            try extensions.write(toFile: "\(d)/\(name).ext", atomically: true, encoding: .utf8)
            try openssl(["x509", "-req", "-in", "\(d)/\(name).csr", "-CA", files.ca, "-CAkey", "\(d)/ca.key", "-CAcreateserial",
                              "-days", "2", "-extfile", "\(d)/\(name).ext", "-out", "\(d)/\(name).pem"], in: d)
        }
        return files
    }

    private func meterctl(_ arguments: [String], apiKey: String) throws -> (status: Int32, output: String, errors: String) {
        let child = try ChildProcess("meterctl", arguments + ["--api-key", apiKey])
        let output = child.remainingLines().joined(separator: "\n")
        let exit = child.wait()
        return (exit.status, output, exit.errorOutput)
    }

    func testTLSWithACAAndPlaintextClientsGetNothing() throws {
        let files = try makeCertificates()
        let server = try ServerProcess(self, arguments: ["--tls-certificate", files.serverCertificate, "--tls-key", files.serverKey])
        defer { XCTAssertEqual(server.stop(), 0) }
        let tcp = ["--tcp", "127.0.0.1:\(server.tcpPort)"]
        let health = try meterctl(["health", "--tls-ca", files.ca] + tcp, apiKey: server.bootstrapKey)
        XCTAssertEqual(health.status, 0, health.errors)
        XCTAssertTrue(health.output.contains("SERVING"), health.output)
        // A server certificate from another CA is not trusted.
        let untrusted = try meterctl(["health", "--tls-ca", files.otherCA] + tcp, apiKey: server.bootstrapKey)
        XCTAssertEqual(untrusted.status, 1)
        XCTAssertTrue(untrusted.errors.lowercased().contains("certificate"), untrusted.errors)
        // A plaintext client: its preface is not a TLS hello, and no meterd frame comes back.
        let plaintext = try RawWireClient(.tcp(port: server.tcpPort))
        try plaintext.sendHandshake(credential: server.bootstrapKey)
        let answer = try? plaintext.readFrame()
        XCTAssertTrue(answer == nil || answer!.type != .handshakeAck, "a plaintext client got \(String(describing: answer))")
        // The Unix socket stays plaintext.
        let unix = try RawWireClient(.unix(server.socketPath))
        XCTAssertEqual(try unix.handshake().role, .admin)
    }

    func testMutualTLSRefusesAClientWithoutACertificate() async throws {
        let files = try makeCertificates()
        let server = try ServerProcess(self, arguments: ["--tls-certificate", files.serverCertificate, "--tls-key", files.serverKey,
                                                         "--tls-client-ca", files.ca])
        defer { XCTAssertEqual(server.stop(), 0) }
        let address = MeterAddress.tcp(host: "127.0.0.1", port: server.tcpPort)
        do {
            let client = try await MeterClient.connect(to: address, credential: server.bootstrapKey,
                                                       tls: MeterClientTLS(certificateAuthorityPath: files.ca), timeout: .seconds(5))
            await client.close()
            XCTFail("a client without a certificate was accepted")
        } catch {
            XCTAssertEqual(error.code, .unavailable, "\(error)")
        }
        let client = try await MeterClient.connect(to: address, credential: server.bootstrapKey, tls: MeterClientTLS(
            certificateAuthorityPath: files.ca, certificateChainPath: files.clientCertificate, privateKeyPath: files.clientKey))
        XCTAssertEqual(client.principal, "key key_1")
        let health = try await client.healthCheck()
        XCTAssertEqual(health.status, .serving)
        await client.close()
    }

    func testSidecarForwardsWithAnIngestKeyOverMutualTLS() async throws {
        let files = try makeCertificates()
        let server = try ServerProcess(self, arguments: ["--tls-certificate", files.serverCertificate, "--tls-key", files.serverKey,
                                                         "--tls-client-ca", files.ca])
        defer { XCTAssertEqual(server.stop(), 0) }
        let admin = try await MeterClient.connect(to: .unixSocket(path: server.socketPath))
        _ = try await admin.createMeter(SidecarEndToEndTests.countMeter())
        let key = try await admin.createApiKey(name: "sidecar", role: .ingest)
        let sidecar = try SidecarProcess(self, upstream: "127.0.0.1:\(server.tcpPort)", extraArguments: [
            "--api-key", key.secret, "--upstream-tls-ca", files.ca,
            "--upstream-tls-certificate", files.clientCertificate, "--upstream-tls-key", files.clientKey,
        ])
        let service = SidecarService(socketPath: sidecar.socketPath)
        try await service.send((0..<20).map { SidecarEndToEndTests.event("tls-\($0)") })
        let status = try await service.waitForStatus(timeout: .seconds(60), "delivery") { $0["spool_events"] == "0" }
        XCTAssertEqual(status["dead_letters"], "0")
        let usage = try await admin.currentUsage(MeterClient.reference("api_call")).row.value
        XCTAssertEqual(usage, "20")
        // The key's audit entry names the admin who made it; the events came with the ingest key.
        let created = try await admin.auditEntries(keyId: key.key.id)
        XCTAssertEqual(created.map(\.action), ["key.create"])
        await service.close()
        await admin.close()
        XCTAssertEqual(sidecar.stop().status, 0)
    }

    func testPlaintextTcpOnANonLoopbackAddressIsRefusedUnlessAllowed() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("meterd-plain-\(UUID().uuidString.prefix(8))").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: base) }
        let refused = try ChildProcess("meterd", ["--data-dir", base + "/data", "--socket", base + ".sock", "--tcp", "0.0.0.0:0"])
        let exit = refused.wait()
        XCTAssertNotEqual(exit.status, 0, exit.errorOutput)
        XCTAssertTrue(exit.errorOutput.contains("not a loopback address and TLS is off"), exit.errorOutput)
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/data"), "nothing was created")
        let allowed = try ChildProcess("meterd", ["--data-dir", base + "/data", "--socket", base + ".sock", "--tcp", "0.0.0.0:0", "--allow-plaintext-tcp"])
        var listening = false
        while let line = allowed.nextLine() {
            if line.hasPrefix("meterd: listening on") {
                listening = line.contains("tcp:0.0.0.0:")
                break
            }
        }
        allowed.signal(SIGTERM)
        XCTAssertEqual(allowed.wait().status, 0)
        XCTAssertTrue(listening, "--allow-plaintext-tcp lets it listen")
        let halfTLS = try ChildProcess("meterd", ["--data-dir", base + "/data", "--socket", base + ".sock", "--no-tcp", "--tls-key", "/nonexistent"])
        let halfExit = halfTLS.wait()
        XCTAssertNotEqual(halfExit.status, 0)
        XCTAssertTrue(halfExit.errorOutput.contains("tls-certificate and tls-key go together"), halfExit.errorOutput)
    }
}
