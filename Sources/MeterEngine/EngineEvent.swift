/// Something the engine did that operators want to see: a snapshot written or failed, log
/// segments deleted by retention, the engine turning failed.
///
/// The engine has no logging or metrics dependency (it stays plain Swift, see Package.swift);
/// it reports these through `EngineOptions.onEvent`, and the executable turns them into log
/// lines and metrics. The callback runs on the engine's writer thread (the retention events on
/// the snapshot thread, which deletes the files), so it must be quick and thread-safe: record
/// a number or hand the event on, never wait.
public enum EngineEvent: Sendable, Hashable {
    /// A snapshot covering the log through `sequence` is on disk. `durationMilliseconds` runs
    /// from the moment it was asked for until the writer collected it (serialization and the
    /// file's fsync happen in between, on the snapshot thread).
    case snapshotWritten(sequence: UInt64, bytes: Int, durationMilliseconds: Int64)
    /// A snapshot could not be written. Nothing is lost: the log still holds every record, and
    /// the next snapshot is asked for on the usual schedule.
    case snapshotFailed(sequence: UInt64, message: String)
    /// Retention deleted `segments` log segments holding the records before `beforeSequence`.
    case retentionDeleted(segments: Int, beforeSequence: UInt64)
    /// Retention could not delete segments (the snapshot is kept; the next one tries again).
    case retentionFailed(message: String)
    /// The log failed (a write or fsync error): writes are refused until restart.
    case failed(message: String)
}
