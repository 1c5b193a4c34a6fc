import Foundation
import MeterTestSupport
import XCTest

/// `meterctl keys` and `meterctl audit` against a real meterd, over TCP with --api-key and
/// with $METERD_API_KEY, and the Swift client's errors for refused credentials.
final class MeterctlAccessTests: XCTestCase {
    private func meterctl(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String, errors: String) {
        let child = try ChildProcess("meterctl", arguments, environment: environment)
        let output = child.remainingLines().joined(separator: "\n")
        let exit = child.wait()
        return (exit.status, output, exit.errorOutput)
    }

    func testKeysAndAuditThroughMeterctl() throws {
        let server = try ServerProcess(self)
        defer { XCTAssertEqual(server.stop(), 0) }
        let tcp = ["--tcp", "127.0.0.1:\(server.tcpPort)"]

        let anonymous = try meterctl(["meters", "list"] + tcp, environment: ["METERD_API_KEY": ""])
        XCTAssertEqual(anonymous.status, 1)
        XCTAssertTrue(anonymous.errors.contains("UNAUTHENTICATED: "), anonymous.errors)

        // Create an ingest key with the bootstrap key given on the command line.
        let created = try meterctl(["keys", "create", "billing-sidecar", "--role", "ingest", "--json", "--api-key", server.bootstrapKey] + tcp)
        XCTAssertEqual(created.status, 0, created.errors)
        let key = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(created.output.utf8)) as? [String: Any])
        XCTAssertEqual(key["id"] as? String, "key_2")
        XCTAssertEqual(key["role"] as? String, "ingest")
        XCTAssertEqual(key["created_by"] as? String, "key key_1")
        let secret = try XCTUnwrap(key["secret"] as? String)

        // The ingest key may not list keys; the admin key from the environment may.
        let denied = try meterctl(["keys", "list"] + tcp, environment: ["METERD_API_KEY": secret])
        XCTAssertEqual(denied.status, 1)
        XCTAssertTrue(denied.errors.contains("PERMISSION_DENIED: role ingest does not allow Access/ListApiKeys"), denied.errors)
        let listed = try meterctl(["keys", "list"] + tcp, environment: ["METERD_API_KEY": server.bootstrapKey])
        XCTAssertEqual(listed.status, 0, listed.errors)
        XCTAssertTrue(listed.output.contains("billing-sidecar") && listed.output.contains("bootstrap admin"), listed.output)
        XCTAssertFalse(listed.output.contains(secret), "secrets are never listed")

        let revoked = try meterctl(["keys", "revoke", "key_2", "--api-key", server.bootstrapKey] + tcp)
        XCTAssertEqual(revoked.status, 0, revoked.errors)
        XCTAssertTrue(revoked.output.contains("revoked:"), revoked.output)
        let refused = try meterctl(["health", "--api-key", secret] + tcp)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.errors.contains("UNAUTHENTICATED: ") && refused.errors.contains("key_2 is revoked"), refused.errors)

        // The audit trail, on the socket as its owner, filtered by key, as JSON.
        let audit = try meterctl(["audit", "--key", "key_2", "--json", "--socket", server.socketPath])
        XCTAssertEqual(audit.status, 0, audit.errors)
        let entries = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(audit.output.utf8)) as? [[String: Any]])
        XCTAssertEqual(entries.map { $0["action"] as? String }, ["key.create", "key.revoke"])
        XCTAssertEqual(entries.map { $0["actor_key_id"] as? String }, ["key_1", "key_1"])
        let text = try meterctl(["audit", "--socket", server.socketPath])
        XCTAssertTrue(text.output.contains("TIME") && text.output.contains("key.revoke"), text.output)
        let badTime = try meterctl(["audit", "--from", "yesterday", "--socket", server.socketPath])
        XCTAssertEqual(badTime.status, 2, badTime.errors)
    }
}
