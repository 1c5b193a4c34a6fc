import MeterCore
import MeterLog

/// The engine's state taken for sharing with other nodes (cluster mode, docs/cluster.md,
/// "Snapshots"): the bytes a single node writes into its snapshot files, as of the engine's
/// local log position `sequence`.
public struct CapturedSnapshot: Sendable, Equatable {
    /// The engine's own log position the state covers (the snapshot file's sequence).
    public var sequence: UInt64
    /// `MeterStateMachine.snapshot()`: deterministic, versioned, checked when read.
    public var bytes: [UInt8]

    public init(sequence: UInt64, bytes: [UInt8]) {
        self.sequence = sequence
        self.bytes = bytes
    }
}

extension MeterEngine {
    /// Cluster mode: the state as it is once every write queued before this call is applied,
    /// serialized on the writer thread (the caller, the log's applier, waits meanwhile, so the
    /// state is exactly the one after the last record it applied). nil while a meter's backfill
    /// is unfinished: a backfill reads this engine's own log, which a node starting from the
    /// snapshot would not have.
    public func captureSnapshot(completion: @escaping @Sendable (Result<CapturedSnapshot?, EngineError>) -> Void) {
        submitRead(orElse: { completion(.failure($0)) }) { [self] machine in
            guard failure == nil else {
                completion(.failure(.unavailable("the engine failed: \(failure ?? "")")))
                return
            }
            guard machine.pendingBackfills.isEmpty else {
                completion(.success(nil))
                return
            }
            completion(.success(CapturedSnapshot(sequence: machine.lastAppliedSequence, bytes: machine.snapshot(expectedByteCount: lastSnapshotBytes))))
        }
    }

    /// Cluster mode: whether `meter`, created by a record this engine applied, backfills
    /// events from before the snapshot the engine started from: its backfill reads the engine's
    /// own log, which begins after that snapshot, so it could not count what a full replay
    /// counts; the engine must be rebuilt from the stream's start. Decided from the meter's
    /// creation position alone (not from the backfill's progress, which depends on timing).
    public func backfillNeedsEarlierLog(_ meter: Meter) -> Bool {
        recovery.snapshotSequence > 0 && meter.createdSequence > recovery.snapshotSequence
    }

    /// Queues a read whose caller waits for it; `orElse` runs instead when the engine is
    /// stopping or its queue is full (`submit` drops a read it refuses: nobody would answer).
    private func submitRead(orElse refused: (EngineError) -> Void, _ body: @escaping (MeterStateMachine) -> Void) {
        condition.lock()
        if stopping || finished || queue.count >= options.queueCapacityCommands {
            condition.unlock()
            refused(.unavailable("the engine is stopping or its queue is full"))
            return
        }
        queue.append(.read(body))
        condition.signal()
        condition.unlock()
    }

    /// Puts `snapshot` into the empty data directory `directory` as the snapshot file a single
    /// node would have written, so that `open` starts from it (and replays nothing of its own log).
    public static func seed(directory: String, with snapshot: CapturedSnapshot) throws {
        let store = try SnapshotStore(directory: directory)
        try store.write(sequence: snapshot.sequence, bytes: snapshot.bytes)
    }
}
