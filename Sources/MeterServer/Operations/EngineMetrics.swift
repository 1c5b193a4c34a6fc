import CoreMetrics
import MeterEngine
import MeterOperations
import NIOConcurrencyHelpers

/// The engine's metrics: its published counters (`EngineStatus`), copied at each scrape, and
/// the snapshot and retention events it reports through `EngineOptions.onEvent`.
///
/// The engine itself has no metrics dependency; `update(from:)` runs when /metrics is read
/// (so the numbers are as fresh as the writer's last publication, and nothing polls in
/// between), and `observe(_:)` is called on the writer thread for each `EngineEvent`.
public final class EngineMetrics: Sendable {
    private let groupCommits: CounterMirror
    private let groupCommitEvents: CounterMirror
    private let syncs: CounterMirror
    private let queuedEvents: Gauge
    private let lastAppliedSequence: Gauge
    private let firstRetainedSequence: Gauge
    private let snapshotSequence: Gauge
    private let snapshotInProgress: Gauge
    private let failed: Gauge
    private let dedupIndexEntries: Gauge
    private let dedupIndexBytes: Gauge
    private let dedupIndexMaximumEntries: Gauge
    private let snapshotDuration: Timer
    private let snapshotBytes: Recorder
    private let lastSnapshotBytes: Gauge
    private let snapshotsWritten: Counter
    private let snapshotsFailed: Counter
    private let retentionDeletedSegments: Counter

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        groupCommits = CounterMirror(Counter(label: "meterd_group_commits_total", factory: factory))
        groupCommitEvents = CounterMirror(Counter(label: "meterd_group_commit_events_total", factory: factory))
        syncs = CounterMirror(Counter(label: "meterd_log_syncs_total", factory: factory))
        queuedEvents = Gauge(label: "meterd_writer_queue_events", factory: factory)
        lastAppliedSequence = Gauge(label: "meterd_last_applied_sequence", factory: factory)
        firstRetainedSequence = Gauge(label: "meterd_first_retained_sequence", factory: factory)
        snapshotSequence = Gauge(label: "meterd_snapshot_sequence", factory: factory)
        snapshotInProgress = Gauge(label: "meterd_snapshot_in_progress", factory: factory)
        failed = Gauge(label: "meterd_engine_failed", factory: factory)
        dedupIndexEntries = Gauge(label: "meterd_dedup_index_entries", factory: factory)
        dedupIndexBytes = Gauge(label: "meterd_dedup_index_bytes", factory: factory)
        dedupIndexMaximumEntries = Gauge(label: "meterd_dedup_index_max_entries", factory: factory)
        snapshotDuration = Timer(label: "meterd_snapshot_duration_seconds", factory: factory)
        snapshotBytes = Recorder(label: "meterd_snapshot_bytes", factory: factory)
        lastSnapshotBytes = Gauge(label: "meterd_snapshot_last_bytes", factory: factory)
        snapshotsWritten = Counter(label: "meterd_snapshots_written_total", factory: factory)
        snapshotsFailed = Counter(label: "meterd_snapshots_failed_total", factory: factory)
        retentionDeletedSegments = Counter(label: "meterd_retention_deleted_segments_total", factory: factory)
    }

    /// Copies the engine's published counters into the metrics (call before each scrape).
    public func update(from status: EngineStatus) {
        groupCommits.advance(to: status.groupCommits)
        groupCommitEvents.advance(to: status.groupCommitEvents)
        syncs.advance(to: status.syncs)
        queuedEvents.record(status.queuedEvents)
        lastAppliedSequence.record(status.lastAppliedSequence)
        firstRetainedSequence.record(status.firstRetainedSequence)
        snapshotSequence.record(status.snapshotSequence)
        snapshotInProgress.record(status.snapshotInProgress ? 1 : 0)
        failed.record(status.failure == nil ? 0 : 1)
        dedupIndexEntries.record(status.dedupIndex.entries)
        dedupIndexBytes.record(status.dedupIndex.bytes)
        dedupIndexMaximumEntries.record(status.dedupIndex.maximumEntries)
    }

    /// Records a snapshot's duration and size, or a failure, or retention's deletions.
    public func observe(_ event: EngineEvent) {
        switch event {
        case .snapshotWritten(_, let bytes, let durationMilliseconds):
            snapshotsWritten.increment()
            snapshotDuration.recordMilliseconds(durationMilliseconds)
            snapshotBytes.record(bytes)
            lastSnapshotBytes.record(bytes)
        case .snapshotFailed:
            snapshotsFailed.increment()
        case .retentionDeleted(let segments, _):
            retentionDeletedSegments.increment(by: segments)
        case .retentionFailed, .failed:
            break  // the failed state is the gauge meterd_engine_failed, read from the status
        }
    }
}
