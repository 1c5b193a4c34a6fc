import ArgumentParser
import Foundation

/// meterd against PostgreSQL and Redis on this machine, side by side in one run. Started by
/// `scripts/bench`, which builds the binaries, runs this, and renders docs/benchmarks.md.
@main
struct MeterCompare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meter-compare",
        abstract: "Benchmark meterd against PostgreSQL and Redis (durable ingest, latency, queries, growth).",
        subcommands: [Run.self, SmokeDatabases.self, SnapshotPause.self],
        defaultSubcommand: Run.self)
}

/// Options shared by the subcommands.
struct CommonOptions: ParsableArguments {
    @Option(help: "Directory for every system's files (default: a new folder under /tmp).")
    var workDir: String?

    @Option(help: "PostgreSQL's bin directory.")
    var postgresBin = "/usr/lib/postgresql/15/bin"

    @Option(help: "redis-server executable.")
    var redisServer = "/usr/bin/redis-server"

    func workDirectory() throws -> String {
        let directory = workDir ?? "/tmp/meter-compare-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }
}

extension MeterCompare {
    /// The whole benchmark.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run every workload and write the results as JSON.")

        @OptionGroup var common: CommonOptions

        @Flag(help: "Small numbers, about a minute: checks the harness and the answers, not speed.")
        var quick = false

        @Option(help: "The meterd executable (default: next to this one).")
        var meterd: String?

        @Option(help: "Where to write the JSON results.")
        var out = "bench-results.json"

        @Option(help: "Seed of the generated events.")
        var seed: UInt64 = 20_261_125

        @Option(help: "Systems to run, comma separated (default all): meterd-unix, meterd-tcp, meterd-http, postgres-insert, postgres-copy, redis-always, redis-everysec.")
        var systems: String?

        func run() throws {
            let began = Date()
            let plan = quick ? BenchmarkPlan.quick() : BenchmarkPlan.full()
            let directory = try common.workDirectory()
            let meterdPath = meterd ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("meterd").path
            let wanted = systems.map { Set($0.split(separator: ",").map(String.init)) }
            func log(_ line: String) {
                print("meter-compare: \(line)")
                fflush(stdout)
            }
            log("work directory \(directory), mode \(plan.mode)")
            let meterdUnix = try MeterdSystem(binary: meterdPath, directory: directory + "/meterd-unix", transport: .unix)
            var all: [any BenchSystem] = [meterdUnix]
            var infos = [BenchResults.SystemInfo(key: meterdUnix.key, label: meterdUnix.label, durability: "fdatasync before every acknowledgement (group commit)", settings: meterdUnix.settingsDescription)]
            var stoppers: [() -> Void] = [meterdUnix.stop]
            defer { for stop in stoppers.reversed() { stop() } }
            if wanted?.contains("meterd-tcp") ?? true {
                let meterdTCP = try MeterdSystem(binary: meterdPath, directory: directory + "/meterd-tcp", transport: .tcp)
                all.append(meterdTCP)
                infos.append(BenchResults.SystemInfo(key: meterdTCP.key, label: meterdTCP.label, durability: "fdatasync before every acknowledgement (group commit)", settings: meterdTCP.settingsDescription + ", TCP 127.0.0.1"))
                stoppers.append(meterdTCP.stop)
            }
            if wanted?.contains("meterd-http") ?? true {
                let meterdHTTP = try MeterdSystem(binary: meterdPath, directory: directory + "/meterd-http", transport: .http)
                all.append(meterdHTTP)
                infos.append(BenchResults.SystemInfo(key: meterdHTTP.key, label: meterdHTTP.label, durability: "fdatasync before every acknowledgement (group commit)",
                                                     settings: meterdHTTP.settingsDescription + ", --http 127.0.0.1:0: CloudEvents JSON over keep-alive HTTP/1.1 (usage read over the Unix socket)"))
                stoppers.append(meterdHTTP.stop)
            }
            let databases = try DatabaseSystems.start(common: common, directory: directory, wanted: wanted)
            all += databases.systems
            infos += databases.infos
            stoppers += databases.stoppers
            var versions = databases.versions
            versions["meterd"] = try meterdUnix.serverVersion()
            if let commit = ProcessInfo.processInfo.environment["METERD_COMMIT"], !commit.isEmpty {
                versions["meterd"]! += " (commit \(commit))"
            }
            versions["Swift"] = DatabaseProcess.firstLine(["/usr/bin/env", "swift", "--version"]) ?? "unknown"
            versions["hdrhistogram-swift"] = "0.2.0"
            let results = BenchResults(
                mode: plan.mode, startedAt: ISO8601DateFormatter().string(from: began), durationSeconds: 0,
                machine: MachineInfo.describe(workDirectory: directory), versions: versions,
                settings: BenchResults.Settings(
                    seed: seed, customers: plan.customers, runsPerPoint: plan.runsPerPoint, workDirectory: directory,
                    notes: notes(plan)),
                systems: infos)
            let benchmark = BenchmarkRun(plan: plan, seed: seed, systems: all, meterd: meterdUnix, results: results, log: log)
            var finished = try benchmark.runAll()
            finished.durationSeconds = Date().timeIntervalSince(began)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(finished).write(to: URL(fileURLWithPath: out))
            log(String(format: "wrote %@ after %.0f s; %d correctness checks, %d failed", out, finished.durationSeconds, finished.correctness.count, finished.correctness.filter { !$0.ok }.count))
            if !finished.correct { throw ExitCode(1) }
        }

        private func notes(_ plan: BenchmarkPlan) -> [String] {
            [
                "Events: \(plan.customers) customers; 70% tokens_used (SUM of tokens, filter model in llama3.1, llama3.2), 20% api_requests (COUNT, filter method in POST, PUT), 10% active_users (COUNT_UNIQUE of user); 32-hex-digit event ids; generated from the seed, identical for every system.",
                "Every system is sent the same events, encoded before the clock starts; one thread per connection, one request in flight per connection (closed loop).",
                "Ingest points run \(plan.runsPerPoint) time(s), the systems taking turns at every point; a run ends after \(plan.ingestPoints.first?.maxSeconds ?? 0) s or when its prepared events are all acknowledged.",
                "After every run the first batch is sent again and must count 0 new events (exactly-once).",
                "Latency: single events, open loop at a fixed offered rate for \(plan.latencySeconds) s, \(plan.latencyConnections.map(String.init).joined(separator: " and ")) connections taking the next due request; latency from the due time (HdrHistogram, 3 significant digits).",
                "Snapshot pause: after the query workload, meterd (Unix socket) is restarted with a snapshot due after every record and no growth rule, so it writes snapshots of its whole state back to back, while single events are sent open loop at \(Int(plan.snapshotPauseRate))/s for \(plan.snapshotPauseSeconds) s over 8 connections; the longest latency is the longest pause any request saw.",
                "Queries: after loading \(plan.queryEvents) events spread over 30 days in batches of 1000 over 4 connections into meterd (Unix socket), PostgreSQL (COPY) and Redis (always).",
                "Correctness: the harness computes the expected usage of sample customers per meter and month, and daily totals over all customers, from the events each system acknowledged; every system's answers are compared with it (so with each other).",
            ]
        }
    }

    /// Starts PostgreSQL and Redis, checks ingest, exactly-once and queries against computed values, stops them.
    struct SmokeDatabases: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "smoke-databases", abstract: "Check the PostgreSQL and Redis adapters end to end.")

        @OptionGroup var common: CommonOptions

        func run() throws {
            for line in try DatabaseSmokeCheck.run(workDirectory: try common.workDirectory()) { print(line) }
        }
    }
}
