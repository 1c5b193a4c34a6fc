import MeterCore

/// Why the engine did not carry out a request.
///
/// `rejected` is the client's to fix (invalid input, unknown meter...). `unavailable` means the
/// engine cannot write now: it is shutting down, or the log failed (disk full, EIO, a failed
/// fsync) and stays failed until restart; nothing in such a request was acknowledged.
/// `resourceExhausted` means the queue in front of the writer is full: retry with backoff.
public enum EngineError: Error, Hashable, Sendable, CustomStringConvertible {
    case rejected(MeterError)
    case unavailable(String)
    case resourceExhausted(String)

    public var description: String {
        switch self {
        case .rejected(let error): return error.description
        case .unavailable(let message): return "UNAVAILABLE: \(message)"
        case .resourceExhausted(let message): return "RESOURCE_EXHAUSTED: \(message)"
        }
    }
}

/// What became of one event of an ingest request.
public enum EventResult: Hashable, Sendable {
    /// Written to the log (durably, in fsync mode); the outcome says whether a meter counted it.
    case accepted(EventOutcome)
    /// Its id was already accepted; nothing changed.
    case duplicate
    /// Invalid; not written. The rest of the batch is unaffected.
    case rejected(MeterError)
}

/// The engine's state for health checks.
public struct EngineStatus: Hashable, Sendable {
    public var durability: Durability
    /// Last log position applied to the state machine.
    public var lastAppliedSequence: UInt64
    /// Oldest log position still on disk.
    public var firstRetainedSequence: UInt64
    /// Set once a write or fsync failed; writes stay refused until restart.
    public var failure: String?
    public var queuedEvents: Int
    public var snapshotSequence: UInt64
    /// Group commits written since start (each one write, and one fdatasync in fsync mode).
    public var groupCommits: UInt64 = 0
    /// fdatasync calls on the log since start.
    public var syncs: UInt64 = 0
    /// Events accepted in those group commits (divide by `groupCommits` for the group size).
    public var groupCommitEvents: UInt64 = 0
    /// A snapshot was asked for and its writing (on the snapshot thread) has not been collected yet.
    public var snapshotInProgress = false
    /// How full the exactly-once index is (remembered ids, bytes, the cap).
    public var dedupIndex = DedupIndexFill()
}
