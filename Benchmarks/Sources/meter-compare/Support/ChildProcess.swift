import Foundation

/// A server started by the harness as a child process. Its standard output is read line by
/// line until the caller has seen what it waits for; after that a thread copies the rest into
/// a log file so the child never blocks on a full pipe.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    private let output = Pipe()
    private var buffer: [UInt8] = []
    private let logPath: String

    init(executable: String, arguments: [String], logPath: String) throws {
        self.logPath = logPath
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: logPath)
        try process.run()
    }

    var processIdentifier: Int32 { process.processIdentifier }

    /// Reads lines until one satisfies `predicate`; returns it, or nil when the child exited first.
    func waitForLine(where predicate: (String) -> Bool) -> String? {
        while true {
            while let newline = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                if predicate(line) { return line }
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }
            buffer.append(contentsOf: chunk)
        }
    }

    /// Copies the rest of the child's output into the log file on a background thread.
    func drainOutputToLog() {
        let reader = output.fileHandleForReading
        let path = logPath
        Thread.detachNewThread {
            guard let log = FileHandle(forWritingAtPath: path) else { return }
            log.seekToEndOfFile()
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                log.write(chunk)
            }
            try? log.close()
        }
    }

    /// Sends `signal` and waits for the child to exit; returns its termination status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
