/// Everything one `meter-compare` run measured, written as JSON (`--out`). `scripts/bench-report`
/// turns it into docs/benchmarks.md and the PNG charts.
struct BenchResults: Codable, Sendable {
    var mode: String                      // "full" or "quick"
    var startedAt: String                 // ISO 8601, UTC
    var durationSeconds: Double
    var machine: Machine
    var versions: [String: String]        // "meterd", "PostgreSQL", "Redis", "Swift", "hdrhistogram-swift", ...
    var settings: Settings
    var systems: [SystemInfo]
    var ingest: [IngestRun] = []
    var latency: [LatencyRun] = []
    var snapshotPause: [SnapshotPauseRun] = []
    /// This machine's fdatasync rate on a preallocated file (FsyncProbe), measured in this run.
    var fsyncProbe: FsyncProbeRun?
    /// meterd's group commits and fdatasyncs during each ingest and latency run (from ServerInfo).
    var groupCommits: [GroupCommitRun] = []
    var queryEvents: Int = 0              // events loaded before the query workload
    var loadSeconds: [String: Double] = [:]   // system key -> seconds to load queryEvents
    var query: [QueryRun] = []
    var growth: [GrowthRun] = []
    var restart: [RestartRun] = []
    var correctness: [CorrectnessCheck] = []
    /// True when every correctness check passed.
    var correct: Bool = true

    struct Machine: Codable, Sendable {
        var cores: Int
        var memoryBytes: Int
        var cpuModel: String
        var kernel: String
        var disk: String                  // filesystem and device of the work directory
    }

    struct Settings: Codable, Sendable {
        var seed: UInt64
        var customers: Int
        var runsPerPoint: Int
        var workDirectory: String
        var notes: [String]               // one line each, copied into the report
    }

    struct SystemInfo: Codable, Sendable {
        var key: String                   // "meterd-unix"
        var label: String                 // "meterd (unix socket)"
        var durability: String            // "fsync before ack", "appendfsync everysec (weaker)"
        var settings: String              // exact flags / configuration, one line
    }

    /// One point of the ingest matrix: `runs` repetitions, interleaved with the other systems.
    struct IngestRun: Codable, Sendable {
        var system: String                // SystemInfo.key
        var batchSize: Int
        var connections: Int
        var eventsPerSecond: [Double]     // one per run
        var events: [Int]                 // events acknowledged per run
        var medianEventsPerSecond: Double
    }

    /// Single-event durable ingest at a fixed offered rate (open loop, latency from the intended send time).
    struct LatencyRun: Codable, Sendable {
        var system: String
        var offeredPerSecond: Double
        var achievedPerSecond: Double
        var connections: Int
        var count: Int
        var p50Microseconds: Double
        var p90Microseconds: Double
        var p99Microseconds: Double
        var p999Microseconds: Double
        var maxMicroseconds: Double
    }

    /// 4 KiB writes with fdatasync after each into a zero-filled, fsynced file.
    struct FsyncProbeRun: Codable, Sendable {
        var syncs: Int
        var seconds: Double
        var syncsPerSecond: Double
        var p50Microseconds: Double
        var p99Microseconds: Double
        var maxMicroseconds: Double
    }

    /// meterd's commit counters over one run of a workload.
    struct GroupCommitRun: Codable, Sendable {
        var system: String
        var workload: String              // "ingest batch 1 x 8 connections" or "latency 4000/s x 8 connections"
        var events: Int
        var seconds: Double
        var groupCommits: Int
        var syncs: Int
        var groupCommitsPerSecond: Double
        var eventsPerGroupCommit: Double
    }

    /// Single events at a low fixed rate while meterd writes snapshot after snapshot of a
    /// large state: the longest any request waited shows whether a snapshot stops ingestion.
    struct SnapshotPauseRun: Codable, Sendable {
        var system: String
        /// Events in meterd's state (all remembered for exactly-once) when the probe ran.
        var eventsInState: Int
        var offeredPerSecond: Double
        var achievedPerSecond: Double
        var connections: Int
        var seconds: Double
        /// Snapshot files meterd wrote while the probe ran.
        var snapshotsWritten: Int
        var p50Microseconds: Double
        var p99Microseconds: Double
        var p999Microseconds: Double
        var maxMicroseconds: Double
    }

    struct QueryRun: Codable, Sendable {
        var system: String
        var query: String                 // "period-one-customer" or "daily-30-days-all-customers"
        var description: String
        var count: Int
        var p50Microseconds: Double
        var p99Microseconds: Double
    }

    /// meterd alone: ingest rate and resident memory with this many active customers.
    struct GrowthRun: Codable, Sendable {
        var customers: Int
        var events: Int
        var eventsPerSecond: Double
        var residentBytes: Int
    }

    /// meterd alone: time from start to answering Health with `events` events in the log.
    struct RestartRun: Codable, Sendable {
        var events: Int
        var withSnapshot: Bool
        var seconds: Double
    }

    struct CorrectnessCheck: Codable, Sendable {
        var system: String
        var check: String                 // "after ingest: tokens_used period usage of cust-00042"
        var expected: String
        var actual: String
        var ok: Bool
    }
}
