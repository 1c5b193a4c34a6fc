/// How a `SegmentedLog` rolls segments and how it treats damage found when opening.
///
/// `repair` is RocksDB's choice between `kAbsoluteConsistency` and dropping everything from
/// the first bad record onward: by default a bad record that is not a torn tail stops the
/// open with `LogError.corruption`, because silently losing acknowledged billing records is
/// worse than not starting. An operator who has looked at the damage reopens with
/// `repair: true`, which truncates at the bad record and keeps a copy of what it cut.
public struct LogOptions: Sendable {
    /// The size past which the active segment is sealed and a new one started. A segment
    /// may exceed it by one append, because one append is never split across segments.
    public var segmentSizeBytes: Int
    /// Whether open may truncate at mid-log corruption instead of throwing.
    public var repair: Bool
    /// The log position of the newest valid snapshot (0: none). Recovery decides with it
    /// before it changes anything: records at or below it may be dropped when damaged, since
    /// the snapshot holds their effect, and the log then continues after the damage (or after
    /// the snapshot) instead of ending below the snapshot's position.
    public var snapshotSequence: UInt64
    /// The system calls that change files; tests substitute one that fails on demand.
    var systemCalls: any SystemCalls = PosixSystemCalls()

    /// Creates options; `segmentSizeBytes` must be at least 64.
    public init(segmentSizeBytes: Int = 64 << 20, repair: Bool = false, snapshotSequence: UInt64 = 0) {
        precondition(segmentSizeBytes >= 64, "segmentSizeBytes must be at least 64")
        self.segmentSizeBytes = segmentSizeBytes
        self.repair = repair
        self.snapshotSequence = snapshotSequence
    }
}
