import Foundation
import MeterProto
import MeterTestSupport
import XCTest

/// Unix-socket peer credentials (SO_PEERCRED) with real local users: created here as root,
/// each running `meterctl` under its own uid (setpriv). meterd's own user needs no key; a
/// mapped user gets exactly its tenant and role; an unmapped user needs a key.
final class PeerCredentialTests: XCTestCase {
    /// Creates (once) a system user without a home and returns its uid and gid.
    static func localUser(_ name: String) throws -> (uid: UInt32, gid: UInt32) {
        if getpwnam(name) == nil {
            let add = try ChildProcessRunner.run("/usr/sbin/useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name])
            guard add.status == 0 else { throw RawClientError("useradd \(name): \(add.output)") }
        }
        guard let entry = getpwnam(name) else { throw RawClientError("no user \(name) after useradd") }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }

    /// Runs meterctl as `user`; returns its exit status and output (standard output and error).
    static func meterctl(as user: (uid: UInt32, gid: UInt32), _ arguments: [String]) throws -> (status: Int32, output: String) {
        let meterctl = ChildProcess.binaryDirectory.appendingPathComponent("meterctl").path
        return try ChildProcessRunner.run("/usr/bin/setpriv", ["--reuid", "\(user.uid)", "--regid", "\(user.gid)", "--clear-groups", meterctl] + arguments)
    }

    func testMappedLocalUserGetsItsTenantAndRoleAndOthersNeedAKey() throws {
        guard geteuid() == 0 else { throw XCTSkip("creating local users needs root") }
        let reader = try Self.localUser("meterd-peer-reader")
        let stranger = try Self.localUser("meterd-peer-stranger")
        let server = try ServerProcess(self, arguments: ["--socket-mode", "666", "--peer-access", "\(reader.uid)=acme:read"])
        defer { XCTAssertEqual(server.stop(), 0) }
        // Temporary directories are 0700; the other users must reach the socket inside.
        XCTAssertEqual(chmod(server.directory, 0o755), 0)
        // The socket owner (root, meterd's user) creates a meter in acme without a key.
        let owner = try RawWireClient(.unix(server.socketPath))
        try owner.handshake(tenant: "acme")
        _ = try owner.call(.createMeter, ServerEndToEndTests.guideMeter(), as: Meterd_V1_CreateMeterResponse.self).get()
        let socket = ["--socket", server.socketPath]

        // The mapped user reads acme's meters, and nothing else.
        let list = try Self.meterctl(as: reader, ["meters", "list"] + socket)
        XCTAssertEqual(list.status, 0, list.output)
        XCTAssertTrue(list.output.contains("tokens_used"), list.output)
        let keys = try Self.meterctl(as: reader, ["keys", "list"] + socket)
        XCTAssertEqual(keys.status, 1, keys.output)
        XCTAssertTrue(keys.output.contains("PERMISSION_DENIED: role read does not allow Access/ListApiKeys"), keys.output)
        let otherTenant = try Self.meterctl(as: reader, ["meters", "list", "--tenant", "globex"] + socket)
        XCTAssertEqual(otherTenant.status, 1, otherTenant.output)
        XCTAssertTrue(otherTenant.output.contains("PERMISSION_DENIED"), otherTenant.output)
        XCTAssertTrue(otherTenant.output.contains("may act for tenant acme only"), otherTenant.output)

        // An unmapped user is refused without a key, and served with one.
        let refused = try Self.meterctl(as: stranger, ["health"] + socket)
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.output.contains("UNAUTHENTICATED: local user \(stranger.uid) needs an API key"), refused.output)
        let key = try AccessControlTests.createKey(server, tenant: "acme", name: "stranger", role: .read)
        let withKey = try Self.meterctl(as: stranger, ["meters", "list", "--api-key", key.secret] + socket)
        XCTAssertEqual(withKey.status, 0, withKey.output)
        XCTAssertTrue(withKey.output.contains("tokens_used"), withKey.output)
    }
}

/// Runs a program to its end and collects its output.
enum ChildProcessRunner {
    static func run(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
