import Foundation
import MeterTestSupport
import XCTest

/// A built executable of this package started as a real child process, with its standard
/// output read line by line (blocking reads on the pipe: the test waits for what the child
/// says, never for a fixed time).
final class ChildProcess {
    let process = Process()
    private let output = Pipe()
    private let errors = Pipe()
    private var buffer: [UInt8] = []
    private var finishedReading = false

    /// The folder holding the package's built executables (next to the test bundle), or
    /// `METERD_BINARY_DIRECTORY`.
    static var binaryDirectory: URL {
        if let override = ProcessInfo.processInfo.environment["METERD_BINARY_DIRECTORY"] {
            return URL(fileURLWithPath: override)
        }
        var candidate = Bundle.main.bundleURL
        for _ in 0..<3 {
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("meter-engine-driver").path) { return candidate }
            candidate = candidate.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = Self.binaryDirectory.appendingPathComponent(executable)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = errors
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        try process.run()
    }

    var processIdentifier: Int32 { process.processIdentifier }

    /// The next line the child wrote, or nil at end of output.
    func nextLine() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            if finishedReading { return nil }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty {
                finishedReading = true
                if buffer.isEmpty { return nil }
                let line = String(decoding: buffer, as: UTF8.self)
                buffer = []
                return line
            }
            buffer.append(contentsOf: chunk)
        }
    }

    /// Every remaining line until the child closes its output.
    func remainingLines() -> [String] {
        var lines: [String] = []
        while let line = nextLine() { lines.append(line) }
        return lines
    }

    func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    /// Waits for exit; returns the exit status, or the signal number for a killed child.
    @discardableResult
    func wait() -> (status: Int32, killedBySignal: Bool, errorOutput: String) {
        _ = remainingLines()
        process.waitUntilExit()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, process.terminationReason == .uncaughtSignal, errorText)
    }
}
