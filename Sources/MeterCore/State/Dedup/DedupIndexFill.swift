/// How full the exactly-once index is, for Health, `EngineStatus` and metrics.
public struct DedupIndexFill: Hashable, Sendable {
    /// Event ids remembered (entries kept, including the oldest bucket's until it is dropped).
    public var entries: Int
    /// Bytes the index holds (entry chunks, slot table, bucket list).
    public var bytes: Int
    /// The cap, `EventLimits.dedupMaximumIds`.
    public var maximumEntries: Int

    public init(entries: Int = 0, bytes: Int = 0, maximumEntries: Int = 0) {
        self.entries = entries
        self.bytes = bytes
        self.maximumEntries = maximumEntries
    }
}
