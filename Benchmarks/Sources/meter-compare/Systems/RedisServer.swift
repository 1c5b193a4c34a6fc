import CHiredis
import Foundation

/// A redis-server child process started for the benchmark, reachable only through the Unix
/// socket `directory/redis.sock`, persisting through the append-only file (no RDB snapshots).
/// With appendfsync always, Redis fsyncs the AOF before it replies; with everysec it replies
/// first and fsyncs once a second.
final class RedisServer: @unchecked Sendable {
    let executable: String
    let directory: String
    let appendfsync: String
    let socketPath: String
    /// "7.0.15", from `redis-server --version`.
    let version: String
    /// The command line options in one line, for the results' system table.
    let settingsDescription: String

    /// Process id of redis-server, a child of this process.
    let pid: pid_t
    /// Set once the child has been reaped.
    private var exitStatus: Int32?
    private let lock = NSLock()
    private var stopped = false

    /// The redis-server options (after the executable).
    static func arguments(directory: String, appendfsync: String) -> [String] {
        [
            "--port", "0", "--unixsocket", directory + "/redis.sock", "--unixsocketperm", "700",
            "--dir", directory, "--appendonly", "yes", "--appendfsync", appendfsync, "--save", "",
            "--daemonize", "no", "--logfile", directory + "/redis.log",
        ]
    }

    init(executable: String = "/usr/bin/redis-server", directory: String, appendfsync: String) throws {
        guard appendfsync == "always" || appendfsync == "everysec" else {
            throw BenchError("Redis appendfsync must be always or everysec, not \(appendfsync)")
        }
        self.executable = executable
        self.directory = directory
        self.appendfsync = appendfsync
        socketPath = directory + "/redis.sock"
        guard socketPath.utf8.count < 100 else {
            throw BenchError("Redis socket path too long for a Unix socket (\(socketPath.utf8.count) bytes): \(socketPath)")
        }
        let versionLine = DatabaseProcess.firstLine([executable, "--version"]) ?? "unknown"
        version = versionLine.split(separator: " ").first { $0.hasPrefix("v=") }.map { String($0.dropFirst(2)) } ?? versionLine
        let arguments = Self.arguments(directory: directory, appendfsync: appendfsync)
        settingsDescription = "Redis \(version): "
            + arguments.map { $0.isEmpty ? "\"\"" : $0.replacingOccurrences(of: directory, with: "<dir>") }.joined(separator: " ")
            + " (Unix socket only; AOF rewrite defaults)"

        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        pid = try DatabaseProcess.spawn([executable] + arguments, currentDirectory: directory)
        try waitUntilReady(deadline: Date().addingTimeInterval(30))
    }

    /// Polls the socket with PING until the server answers or the deadline passes.
    private func waitUntilReady(deadline: Date) throws {
        var lastError = "no answer"
        while Date() < deadline {
            if let status = DatabaseProcess.exitStatusIfExited(pid) {
                exitStatus = status
                let log = (try? String(contentsOfFile: directory + "/redis.log", encoding: .utf8)) ?? ""
                throw BenchError("redis-server exited with status \(status): \(log.suffix(2000))")
            }
            if let context = redisConnectUnix(socketPath) {
                defer { redisFree(context) }
                if context.pointee.err == 0,
                   let reply = RedisConnection.withArgv(["PING"], { redisCommandArgv(context, $0, $1, $2) }) {
                    let pong = reply.assumingMemoryBound(to: redisReply.self).pointee.type == REDIS_REPLY_STATUS
                    freeReplyObject(reply)
                    if pong { return }
                    lastError = "PING did not answer PONG"
                } else {
                    lastError = RedisConnection.errorText(context)
                }
            }
            usleep(20_000)  // Start-up of an external server: poll, briefly.
        }
        kill(pid, SIGKILL)
        exitStatus = DatabaseProcess.wait(pid)
        throw BenchError("redis-server on \(socketPath) did not answer PING within the deadline: \(lastError)")
    }

    /// VmRSS of the redis-server process.
    func residentBytes() -> Int? { DatabaseProcess.residentBytes(pid: pid) }

    /// SHUTDOWN NOSAVE (SIGTERM when that fails), waits for the process to exit, removes the
    /// directory. Safe to call more than once.
    func stop() {
        let alreadyStopped = lock.withLock { () -> Bool in
            defer { stopped = true }
            return stopped
        }
        if alreadyStopped { return }
        if exitStatus == nil, DatabaseProcess.exitStatusIfExited(pid) == nil {
            if let context = redisConnectUnix(socketPath) {
                if context.pointee.err == 0,
                   let reply = RedisConnection.withArgv(["SHUTDOWN", "NOSAVE"], { redisCommandArgv(context, $0, $1, $2) }) {
                    freeReplyObject(reply)  // Only an error is answered; success closes the connection.
                }
                redisFree(context)
            }
            let deadline = Date().addingTimeInterval(10)
            var exited = false
            while !exited && Date() < deadline {
                exited = DatabaseProcess.exitStatusIfExited(pid) != nil
                if !exited { usleep(10_000) }
            }
            if !exited {
                kill(pid, SIGTERM)
                _ = DatabaseProcess.wait(pid)
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
