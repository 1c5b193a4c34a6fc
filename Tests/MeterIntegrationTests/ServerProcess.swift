import Foundation
import MeterTestSupport
import XCTest

/// A real `meterd` child process on a temporary socket, TCP port and data directory.
final class ServerProcess {
    let directory: String
    let socketPath: String
    private(set) var child: ChildProcess
    private(set) var tcpPort = 0
    /// The metrics port, when started with --metrics.
    private(set) var metricsPort: Int?
    /// What meterd printed on standard output until it listened.
    private(set) var startLines: [String] = []
    let extraArguments: [String]

    init(_ test: XCTestCase, arguments: [String] = [], directory: String? = nil) throws {
        let base = try directory ?? TemporaryDirectory("meterd-server", removedBy: { test.addTeardownBlock($0) }).path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        self.directory = base
        socketPath = base + "/meterd.sock"
        extraArguments = arguments
        child = try Self.launch(directory: base, socketPath: socketPath, arguments: arguments)
        try waitUntilListening()
    }

    private static func launch(directory: String, socketPath: String, arguments: [String]) throws -> ChildProcess {
        try ChildProcess("meterd", ["--data-dir", directory + "/data", "--socket", socketPath, "--tcp", "127.0.0.1:0"] + arguments)
    }

    /// Reads meterd's start-up lines until it says where it listens; notes the TCP (and metrics) port.
    private func waitUntilListening() throws {
        startLines = []
        while let line = child.nextLine() {
            startLines.append(line)
            if line.hasPrefix("meterd: metrics on http://127.0.0.1:") {
                metricsPort = Int(line.dropFirst("meterd: metrics on http://127.0.0.1:".count).prefix { $0.isNumber })
            }
            if line.hasPrefix("meterd: listening on"), let range = line.range(of: "tcp:127.0.0.1:") {
                let digits = line[range.upperBound...].prefix { $0.isNumber }
                tcpPort = Int(digits)!
                return
            }
        }
        let exit = child.wait()
        throw RawClientError("meterd exited before listening: \(exit.errorOutput)")
    }

    /// The bootstrap admin key meterd wrote into its new data directory.
    var bootstrapKey: String {
        ((try? String(contentsOfFile: directory + "/data/bootstrap-admin.key", encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func restart() throws {
        child = try Self.launch(directory: directory, socketPath: socketPath, arguments: extraArguments)
        try waitUntilListening()
    }

    /// SIGTERM and wait; the exit status and everything written to standard error.
    func stopCollectingErrors() -> (status: Int32, errorOutput: String) {
        child.signal(SIGTERM)
        let exit = child.wait()
        return (exit.status, exit.errorOutput)
    }

    /// SIGTERM and wait; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        child.signal(SIGTERM)
        return child.wait().status
    }

    /// The server's resident memory in KiB, from /proc.
    var residentKibibytes: Int {
        let status = (try? String(contentsOfFile: "/proc/\(child.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
}
