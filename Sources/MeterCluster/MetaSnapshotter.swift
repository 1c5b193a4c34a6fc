// Built with the Cluster trait only (`swift build --traits Cluster`, needs libnats-dev).
#if Cluster
import Foundation
import MeterEngine

/// Publishes the meta engine's snapshots (docs/cluster.md, "Meta snapshots"): on the meta
/// applier's thread, when its `SnapshotSchedule` says one is due and this node is the one that
/// publishes them (it holds partition 0's lease: `publishes`), captures the meta engine's own
/// snapshot bytes (so whatever records the meta engine applies are in it) between two records
/// and queues them for publishing as scope `meta`, covering the stream sequence just passed.
/// A node starting loads the newest one (`ClusterLog.prepareMeta`).
final class MetaSnapshotter: @unchecked Sendable {
    private let engine: MeterEngine
    private let snapshots: PartitionSnapshots
    private let schedule: SnapshotSchedule
    private let publishes: @Sendable () -> Bool

    init(engine: MeterEngine, snapshots: PartitionSnapshots, schedule: SnapshotSchedule, publishes: @escaping @Sendable () -> Bool) {
        self.engine = engine
        self.snapshots = snapshots
        self.schedule = schedule
        self.publishes = publishes
    }

    /// After the meta applier passed stream sequence `sequence` (`applied`: a meta record).
    func passed(_ sequence: UInt64, applied: Bool) {
        guard schedule.passed(applied: applied), publishes() else { return }
        let box = CaptureBox()
        engine.captureSnapshot { result in
            box.result = result
            box.done.signal()
        }
        box.done.wait()
        // nil: a capture is not possible right now (a backfill is unfinished); the next message tries again.
        guard case .success(let captured?) = box.result else { return }
        snapshots.enqueue(.meta, streamSequence: sequence, snapshot: captured)
        schedule.taken()
    }
}

/// Carries one capture from the engine's writer thread to the waiting applier thread.
private final class CaptureBox: @unchecked Sendable {
    var result: Result<CapturedSnapshot?, EngineError>?
    let done = DispatchSemaphore(value: 0)
}
#endif
