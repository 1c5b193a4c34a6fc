import Foundation

/// Helpers the PostgreSQL and Redis adapters share to run the servers' command-line tools and
/// to read process memory from /proc (Linux).
///
/// Commands are started with posix_spawn, every descriptor above standard error closed in the
/// child. Foundation's `Process` is not used: it notices a child's exit when a socket it hands
/// to the child closes, and a server the child leaves running (the postmaster `pg_ctl start`
/// starts) inherits that socket, so `waitUntilExit()` never returns.
enum DatabaseProcess {
    /// What a finished command returned.
    struct Outcome {
        var status: Int32
        /// Standard output and standard error, interleaved.
        var output: String
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    private typealias AddChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32

    /// Starts `arguments[0]` (an absolute path) with the remaining arguments and returns its pid.
    /// Standard input is /dev/null; standard output and error go to `outputDescriptor` (a
    /// descriptor of this process) or, when nil, to `outputFile` (truncated), else /dev/null.
    static func spawn(
        _ arguments: [String], currentDirectory: String? = nil, outputFile: String? = nil, outputDescriptor: Int32? = nil
    ) throws -> pid_t {
        // glibc 2.34 / 2.29 extensions the Glibc module does not import: looked up at run time.
        let library = dlopen(nil, RTLD_NOW)
        guard let closeFromSymbol = dlsym(library, "posix_spawn_file_actions_addclosefrom_np"),
              let changeDirectorySymbol = dlsym(library, "posix_spawn_file_actions_addchdir_np")
        else { throw BenchError("this C library lacks posix_spawn_file_actions_addclosefrom_np / addchdir_np (glibc 2.34 or later needed)") }
        let addCloseFrom = unsafeBitCast(closeFromSymbol, to: AddCloseFrom.self)
        let addChangeDirectory = unsafeBitCast(changeDirectorySymbol, to: AddChangeDirectory.self)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let outputDescriptor {
            posix_spawn_file_actions_adddup2(&actions, outputDescriptor, 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, outputFile ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        _ = addCloseFrom(&actions, 3)
        if let currentDirectory { _ = addChangeDirectory(&actions, currentDirectory) }

        let argv = arguments.map { strdup($0) } + [nil]
        let environment = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            environment.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, nil, argv, environment)
        guard result == 0 else { throw BenchError("cannot start \(arguments[0]): \(String(cString: strerror(result)))") }
        return pid
    }

    /// Waits for a spawned child and returns its exit status (128 + signal when killed).
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            if errno != EINTR { return -1 }
        }
        return exitStatus(status)
    }

    /// The exit status when the child has exited (it is then reaped), nil while it runs.
    static func exitStatusIfExited(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { return exitStatus(status) }
        return result == 0 ? nil : -1
    }

    private static func exitStatus(_ status: Int32) -> Int32 {
        status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + status & 0x7F
    }

    /// Runs a command to its end. Output goes to `outputFile` when given (and is read back from
    /// it), else through a pipe.
    static func run(_ arguments: [String], currentDirectory: String? = nil, outputFile: String? = nil) throws -> Outcome {
        if let outputFile {
            let pid = try spawn(arguments, currentDirectory: currentDirectory, outputFile: outputFile)
            let status = wait(pid)
            return Outcome(status: status, output: (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? "")
        }
        var descriptors: [Int32] = [0, 0]
        guard pipe(&descriptors) == 0 else { throw BenchError("pipe: \(String(cString: strerror(errno)))") }
        // Not inherited by children other threads start (pipe2 is not imported).
        _ = fcntl(descriptors[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(descriptors[1], F_SETFD, FD_CLOEXEC)
        let pid: pid_t
        do {
            pid = try spawn(arguments, currentDirectory: currentDirectory, outputDescriptor: descriptors[1])
        } catch {
            close(descriptors[0])
            close(descriptors[1])
            throw error
        }
        close(descriptors[1])
        let reader = FileHandle(fileDescriptor: descriptors[0], closeOnDealloc: true)
        let data = reader.readDataToEndOfFile()
        return Outcome(status: wait(pid), output: String(decoding: data, as: UTF8.self))
    }

    /// Runs a command and throws `BenchError` with its output when it exits with a non-zero status.
    @discardableResult
    static func runChecked(_ arguments: [String], currentDirectory: String? = nil, outputFile: String? = nil) throws -> String {
        let outcome = try run(arguments, currentDirectory: currentDirectory, outputFile: outputFile)
        guard outcome.status == 0 else {
            throw BenchError("\(arguments.joined(separator: " ")) exited with status \(outcome.status): \(outcome.output)")
        }
        return outcome.output
    }

    /// The first line of a command's output, trimmed; nil when it cannot be run.
    static func firstLine(_ arguments: [String]) -> String? {
        guard let outcome = try? run(arguments), outcome.status == 0 else { return nil }
        return outcome.output.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// Resident memory (VmRSS) of one process in bytes; nil when the process is gone.
    static func residentBytes(pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kilobytes = Int(fields[1]) else { return nil }
            return kilobytes * 1024
        }
        return nil
    }

    /// Process ids whose parent is `parent` (from the fourth field of /proc/<pid>/stat).
    static func children(of parent: Int32) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var result: [Int32] = []
        for entry in entries {
            guard let pid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let commandEnd = stat.lastIndex(of: ")")
            else { continue }
            // After "pid (command)": state, ppid, ...
            let fields = stat[stat.index(after: commandEnd)...].split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, Int32(fields[1]) == parent { result.append(pid) }
        }
        return result
    }
}
