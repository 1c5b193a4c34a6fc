/// A snapshot read back from disk: the engine's serialized state as of `sequence`, that is,
/// after applying every log record up to and including `sequence`.
public struct Snapshot: Sendable, Equatable {
    /// The last log sequence the state includes.
    public var sequence: UInt64
    /// The engine's serialized state, opaque to the store.
    public var bytes: [UInt8]

    /// Creates a snapshot value.
    public init(sequence: UInt64, bytes: [UInt8]) {
        self.sequence = sequence
        self.bytes = bytes
    }
}

/// A snapshot file that `SnapshotStore.load()` passed over because it did not validate or
/// could not be read; the file is left in place for inspection.
public struct SkippedSnapshot: Sendable, Equatable, CustomStringConvertible {
    /// The file name within the store's directory.
    public var file: String
    /// Why the file was skipped.
    public var reason: String

    public var description: String { "\(file): \(reason)" }
}

/// The result of `SnapshotStore.load()`: the newest valid snapshot, if any, and every newer
/// file skipped on the way to it, which the server should log as errors.
public struct SnapshotLoad: Sendable, Equatable {
    /// The newest snapshot that validated, or nil if none did.
    public var newest: Snapshot?
    /// Files newer than `newest` (or all files, when `newest` is nil) that were skipped.
    public var skipped: [SkippedSnapshot]
}
