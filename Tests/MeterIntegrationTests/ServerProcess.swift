import Foundation
import MeterTestSupport
import XCTest

/// A real `meterd` child process on a temporary socket, TCP port and data directory.
final class ServerProcess {
    let directory: String
    let socketPath: String
    private(set) var child: ChildProcess
    private(set) var tcpPort = 0
    let extraArguments: [String]

    init(_ test: XCTestCase, arguments: [String] = [], directory: String? = nil) throws {
        let base = try directory ?? TemporaryDirectory("meterd-server", removedBy: { test.addTeardownBlock($0) }).path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        self.directory = base
        socketPath = base + "/meterd.sock"
        extraArguments = arguments
        child = try Self.launch(directory: base, socketPath: socketPath, arguments: arguments)
        tcpPort = try Self.waitUntilListening(child)
    }

    private static func launch(directory: String, socketPath: String, arguments: [String]) throws -> ChildProcess {
        try ChildProcess("meterd", ["--data-dir", directory + "/data", "--socket", socketPath, "--tcp", "127.0.0.1:0"] + arguments)
    }

    /// Reads meterd's start-up lines until it says where it listens; returns the TCP port.
    private static func waitUntilListening(_ child: ChildProcess) throws -> Int {
        while let line = child.nextLine() {
            if line.hasPrefix("meterd: listening on"), let range = line.range(of: "tcp:127.0.0.1:") {
                let digits = line[range.upperBound...].prefix { $0.isNumber }
                return Int(digits)!
            }
        }
        let exit = child.wait()
        throw RawClientError("meterd exited before listening: \(exit.errorOutput)")
    }

    func restart() throws {
        child = try Self.launch(directory: directory, socketPath: socketPath, arguments: extraArguments)
        tcpPort = try Self.waitUntilListening(child)
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
