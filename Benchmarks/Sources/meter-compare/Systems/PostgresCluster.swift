import Foundation

/// A PostgreSQL server started for the benchmark: `initdb` into `directory/pgdata`, then
/// `pg_ctl start -w`, reachable only through a Unix socket in `directory`. Every commit is
/// fsynced before it is acknowledged (fsync=on, synchronous_commit=on), as meterd's acks are.
///
/// initdb and postgres refuse to run as root; as root the directory is given to the `postgres`
/// user and the tools run through `runuser -u postgres --`.
final class PostgresCluster: @unchecked Sendable {
    /// The server settings, written into postgresql.conf.
    static let settings: [(name: String, value: String)] = [
        ("fsync", "on"),
        ("synchronous_commit", "on"),
        ("full_page_writes", "on"),
        ("shared_buffers", "1GB"),
        ("max_wal_size", "8GB"),
        ("checkpoint_timeout", "30min"),
        ("max_connections", "200"),  // two systems share the cluster; the latency workload opens 64 connections each
    ]
    /// Only names the socket file (`.s.PGSQL.5432`); no TCP port is opened.
    static let port = 5432
    static let superuser = "postgres"

    let binDirectory: String
    let directory: String
    let dataDirectory: String
    /// "15.18 (Debian 15.18-0+deb12u1)", from `postgres --version`.
    let version: String
    /// The settings in one line, for the results' system table.
    let settingsDescription: String

    private let runsAsPostgresUser: Bool
    private let lock = NSLock()
    private var stopped = false
    private var users = 0

    init(binDirectory: String = "/usr/lib/postgresql/15/bin", directory: String) throws {
        self.binDirectory = binDirectory
        self.directory = directory
        self.dataDirectory = directory + "/pgdata"
        self.runsAsPostgresUser = getuid() == 0
        let socketPath = directory + "/.s.PGSQL.\(Self.port)"
        guard socketPath.utf8.count < 100 else {
            throw BenchError("PostgreSQL socket path too long for a Unix socket (\(socketPath.utf8.count) bytes): \(socketPath)")
        }
        let versionLine = DatabaseProcess.firstLine([binDirectory + "/postgres", "--version"]) ?? "unknown"
        version = versionLine.replacingOccurrences(of: "postgres (PostgreSQL) ", with: "")
        settingsDescription = "PostgreSQL \(version): "
            + Self.settings.map { "\($0.name)=\($0.value)" }.joined(separator: ", ")
            + ", listen_addresses='' (Unix socket only), initdb --auth=trust -E UTF8 --locale=C"

        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if runsAsPostgresUser {
            try DatabaseProcess.runChecked(["/usr/bin/chown", "-R", "\(Self.superuser):", directory])
            let access = try DatabaseProcess.run(["/usr/sbin/runuser", "-u", Self.superuser, "--", "/usr/bin/test", "-w", directory])
            guard access.status == 0 else {
                throw BenchError("the postgres user cannot write to \(directory): every parent directory must be searchable by others")
            }
        }
        try DatabaseProcess.runChecked(
            command([binDirectory + "/initdb", "-D", dataDirectory, "--auth=trust", "-U", Self.superuser,
                     "-E", "UTF8", "--locale=C", "--no-instructions"]),
            currentDirectory: directory, outputFile: directory + "/initdb.log")
        var configuration = "\n# meter-compare\nlisten_addresses = ''\nunix_socket_directories = '\(directory)'\nport = \(Self.port)\n"
        for setting in Self.settings { configuration += "\(setting.name) = \(setting.value)\n" }
        let configurationFile = try FileHandle(forWritingTo: URL(fileURLWithPath: dataDirectory + "/postgresql.conf"))
        try configurationFile.seekToEnd()
        try configurationFile.write(contentsOf: Data(configuration.utf8))
        try configurationFile.close()
        try DatabaseProcess.runChecked(
            command([binDirectory + "/pg_ctl", "-D", dataDirectory, "-l", directory + "/postgres.log", "-w", "-t", "120", "start"]),
            currentDirectory: directory, outputFile: directory + "/pg_ctl.log")
    }

    /// libpq connection string for one database of this cluster.
    func connectionString(database: String) -> String {
        let host = directory.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
        return "host='\(host)' port=\(Self.port) user=\(Self.superuser) dbname=\(database)"
    }

    /// Process id of the postmaster: the first line of pgdata/postmaster.pid.
    var postmasterPid: Int32? {
        guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8),
              let line = text.split(separator: "\n").first
        else { return nil }
        return Int32(line.trimmingCharacters(in: .whitespaces))
    }

    /// VmRSS of the postmaster and its children (backends, checkpointer, WAL writer, ...), summed.
    /// Shared memory (shared_buffers) a process has touched counts in its VmRSS, so it is counted
    /// once per process that touched it: an upper bound.
    func residentBytes() -> Int? {
        guard let postmaster = postmasterPid, let own = DatabaseProcess.residentBytes(pid: postmaster) else { return nil }
        return DatabaseProcess.children(of: postmaster).reduce(own) { total, child in
            total + (DatabaseProcess.residentBytes(pid: child) ?? 0)
        }
    }

    /// Registers a system using this cluster; `release()` stops the cluster after the last one.
    func retain() {
        lock.withLock { users += 1 }
    }

    /// Called by a system's `stop()`: stops the cluster when no other system uses it.
    func release() {
        let last = lock.withLock { () -> Bool in
            users -= 1
            return users <= 0
        }
        if last { stop() }
    }

    /// `pg_ctl stop -m fast -w`, then removes the directory. Safe to call more than once.
    func stop() {
        let alreadyStopped = lock.withLock { () -> Bool in
            defer { stopped = true }
            return stopped
        }
        if alreadyStopped { return }
        _ = try? DatabaseProcess.run(
            command([binDirectory + "/pg_ctl", "-D", dataDirectory, "-m", "fast", "-w", "-t", "120", "stop"]),
            currentDirectory: directory)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The command line, wrapped in `runuser -u postgres --` when running as root.
    private func command(_ arguments: [String]) -> [String] {
        runsAsPostgresUser ? ["/usr/sbin/runuser", "-u", Self.superuser, "--"] + arguments : arguments
    }
}
