import MeterCore
import MeterLog

extension MeterEngine {
    /// The snapshot replica for an engine recovering from `snapshotBytes` (nil: an empty state).
    /// It parses the snapshot on its own thread while recovery parses the writer's copy.
    static func makeSnapshotReplica(options: EngineOptions, store: SnapshotStore, snapshotBytes: [UInt8]?) -> SnapshotReplica {
        let configuration = options.core
        return SnapshotReplica(store: store, beforeWrite: options.beforeSnapshotWrite, onEvent: options.onEvent,
                               beforeSegmentDelete: options.beforeSegmentDelete) {
            guard let snapshotBytes else { return MeterStateMachine(configuration: configuration) }
            return try MeterStateMachine(snapshot: snapshotBytes, configuration: configuration)
        }
    }
}
