import MeterCore

/// When the engine acknowledges a write relative to fsync.
///
/// - `fsync` (default): a reply is sent only after the log record holding the write was
///   fdatasync'ed. A kill -9 at any moment loses nothing that was acknowledged.
/// - `interval(milliseconds:)`: the log is fdatasync'ed at most every N ms (and when idle);
///   replies are sent after the write reached the page cache, so acknowledgements may run up
///   to N ms ahead of durability: a machine crash (not a process crash) can lose them.
/// - `none`: never fsync (the OS writes back when it likes). For tests and benchmarks only.
public enum Durability: Hashable, Sendable, CustomStringConvertible {
    case fsync
    case interval(milliseconds: Int)
    case none

    public var description: String {
        switch self {
        case .fsync: return "fsync"
        case .interval(let milliseconds): return "interval(\(milliseconds)ms)"
        case .none: return "none"
        }
    }

    /// Parses `fsync`, `none`, `interval` (100 ms) or `interval:N`.
    public init?(parsing text: String) {
        switch text {
        case "fsync": self = .fsync
        case "none": self = .none
        case "interval": self = .interval(milliseconds: 100)
        default:
            guard text.hasPrefix("interval:"), let milliseconds = Int(text.dropFirst("interval:".count)), milliseconds > 0 else { return nil }
            self = .interval(milliseconds: milliseconds)
        }
    }
}

/// Everything the engine is configured with at start-up. Defaults are the documented ones.
public struct EngineOptions: Sendable {
    /// Directory holding the log segments and snapshots (created if missing).
    public var dataDirectory: String
    public var durability: Durability = .fsync
    /// Rules of the state machine (late window, dedup window, limits...). Its `dedupKey`, when
    /// left `.unkeyed`, is replaced at open by the data directory's key (the `dedup-key` file).
    public var core = MeterCoreConfiguration()
    /// Most events waiting for the writer; beyond it ingest fails fast with RESOURCE_EXHAUSTED.
    public var queueCapacityEvents = 1_000_000
    /// Most commands (of any kind) waiting for the writer.
    public var queueCapacityCommands = 100_000
    /// Write a snapshot after this many log records...
    public var snapshotEveryRecords: UInt64 = 50_000
    /// ...or after this many seconds with at least one new record, whichever comes first...
    public var snapshotEverySeconds: Int64 = 300
    /// ...but only once the log has grown by at least this multiple of the previous snapshot's
    /// size since that snapshot. A snapshot writes the whole state, so with millions of
    /// remembered event ids it takes seconds on the writer thread; this keeps the time spent on
    /// snapshots proportional to the time spent writing the log, instead of stalling ingestion
    /// every `snapshotEveryRecords` records. Recovery then replays at most about this multiple
    /// of the state's size in log. 0 turns the rule off.
    public var snapshotMinimumLogGrowth: Double = 1.0
    /// The most bytes per second a snapshot file is written at; 0: no limit. On a virtual disk
    /// every group commit's fdatasync also flushes what the snapshot wrote since the previous
    /// one, so a snapshot written at full speed delays acknowledgements; at 64 MiB/s a 500 MB
    /// snapshot takes about 8 s to write and leaves the rest of the disk to the log.
    public var snapshotWriteBytesPerSecond = 64 << 20
    /// Segments older than this and fully covered by a snapshot are deleted. Default 7 days.
    /// Backfill of a new meter sees only retained events.
    public var retentionMilliseconds: Int64 = 7 * 24 * 3_600_000
    /// Size at which a log segment is sealed and a new one started.
    public var segmentSizeBytes = 64 << 20
    /// Open a log with mid-log corruption by cutting it there (loses the records after it).
    public var repair = false
    /// Most log records one backfill step reads before letting ingestion run again.
    public var backfillRecordsPerStep: UInt64 = 256
    /// Called on the snapshot thread with the log position just before each snapshot is
    /// serialized. For tests: holding it shows that ingestion goes on while a snapshot is
    /// being written. nil in production.
    public var beforeSnapshotWrite: (@Sendable (UInt64) -> Void)?
    /// Called on the snapshot thread with the segment names just before retention deletes
    /// them. For tests: holding it shows that ingestion goes on while segments are deleted.
    /// nil in production.
    public var beforeSegmentDelete: (@Sendable ([String]) -> Void)?
    /// Called just before each fdatasync of the log in `fsync` mode, on whichever thread runs
    /// it. For tests: holding it holds a group commit's sync. nil in production.
    public var beforeLogSync: (@Sendable () -> Void)?
    /// Answer CheckEntitlement from the view the writer publishes (`EntitlementCheckView`)
    /// when it covers the check. false: every check queues for the writer, as before the view
    /// existed (`meter-bench entitlement` compares both with METERD_BENCH_NO_VIEW=1).
    public var entitlementCheckView = true
    /// Called on the writer thread just before it applies each written group (after its log
    /// write and sync). For tests: holding it holds the writer itself busy. nil in production.
    public var beforeApply: (@Sendable () -> Void)?
    /// Told of snapshots, retention and failure (see `EngineEvent`), on the writer thread: it
    /// must return quickly. meterd logs these and turns them into metrics. nil: nobody listens.
    public var onEvent: (@Sendable (EngineEvent) -> Void)?
    /// Cluster mode (docs/cluster.md): writes go to this shared log and are applied from it by
    /// `MeterEngine.applyReplicated`; nil (the default): this node's own log is the only one.
    public var replicatedLog: (any ReplicatedLog)?
    /// Cluster mode: told every API key created or revoked by a record applied from the
    /// replicated log, whichever node wrote it (on the writer thread: return quickly), so that
    /// the server's key store knows keys made on other nodes, and their revocations.
    public var onReplicatedKey: (@Sendable (ApiKey) -> Void)?
    /// Milliseconds since the Unix epoch; replace it in tests to control time.
    public var clock: @Sendable () -> Int64 = EngineOptions.systemClock

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }

    /// The wall clock, in Unix milliseconds.
    public static let systemClock: @Sendable () -> Int64 = {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
