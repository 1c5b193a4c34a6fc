import Foundation
import XCTest

/// A child process whose standard output and error go to a log file (so that it never blocks
/// on a full pipe however much it logs), for the cluster tests' NATS servers and meterd nodes.
/// Readiness is found by polling the log for a line, with a deadline.
final class LoggedProcess {
    let process = Process()
    let logPath: String

    init(executable: String, arguments: [String], logPath: String) throws {
        self.logPath = logPath
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try log.close()
    }

    var processIdentifier: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Polls the log until it holds every one of `lines` (as substrings); throws at the
    /// deadline or when the process exits first, with the log.
    func waitForLog(_ lines: [String], seconds: Double) throws {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while true {
            let text = log
            if lines.allSatisfy({ text.contains($0) }) { return }
            if !process.isRunning { throw LocalClusterError("\(process.executableURL!.lastPathComponent) exited before logging \(lines):\n\(text)") }
            if Date() >= deadline { throw LocalClusterError("no \(lines) within \(seconds) s in \(logPath):\n\(text.suffix(4000))") }
            usleep(20_000)
        }
    }

    func kill(_ signal: Int32) {
        Glibc.kill(process.processIdentifier, signal)
    }

    /// SIGKILL and wait for the exit.
    func killAndWait() {
        kill(SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM and wait; the exit status.
    @discardableResult
    func terminateAndWait() -> Int32 {
        kill(SIGTERM)
        process.waitUntilExit()
        return process.terminationStatus
    }
}

struct LocalClusterError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
