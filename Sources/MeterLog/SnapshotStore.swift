#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Durable, checksummed snapshots of the engine's state, one file per snapshot, so that
/// startup replays only the log records after the newest snapshot and old segments can go.
///
/// A snapshot is written to a `.tmp` file (paced: its writeback is started chunk by chunk so
/// that it never queues hundreds of megabytes ahead of the log's fdatasyncs), fsynced, renamed into place and the directory
/// fsynced, so a crash leaves either the old set of snapshots or the new one, never a partial
/// file under a real name. Loading still validates each file (magic, name, length, CRC-32C)
/// and falls back to older snapshots past any that are damaged. Format: `SnapshotFormat.swift`
/// and docs/log-format.md. Not thread-safe: the log's single writer owns it.
public struct SnapshotStore: Sendable {
    /// Bytes written between two writeback waits (`FileOperations.writePaced`): at most two
    /// such chunks of a snapshot are dirty or in flight while the log syncs its groups.
    static let writebackChunk = 2 << 20

    /// The most bytes per second a snapshot file is written at (nil or 0: as fast as the disk
    /// takes them). See `FileOperations.writePaced`.
    public var writeBytesPerSecond: Int?

    /// The directory holding the snapshot files.
    public let directory: String
    let files: FileOperations

    /// A store in `directory`, which is created if missing.
    public init(directory: String) throws {
        try self.init(directory: directory, systemCalls: PosixSystemCalls())
    }

    init(directory: String, systemCalls: any SystemCalls) throws {
        self.directory = directory
        files = FileOperations(systemCalls: systemCalls)
        try files.makeDirectoryIfMissing(directory)
    }

    /// Atomically writes the snapshot for `sequence`, replacing any with the same sequence.
    public func write(sequence: UInt64, bytes: [UInt8]) throws {
        let path = joinPath(directory, SnapshotFormat.name(sequence: sequence))
        let temporaryPath = joinPath(directory, SnapshotFormat.prefix + zeroPadded(sequence) + SnapshotFormat.temporarySuffix)
        let descriptor = try files.openFile(temporaryPath, flags: O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try writeAll(SnapshotFormat.header(sequence: sequence, bytes: bytes), to: descriptor, at: 0, path: temporaryPath, files: files)
            let result: Result<Void, LogError> = bytes.withUnsafeBytes { buffer in
                Result { () throws(LogError) in
                    try files.writePaced(descriptor, buffer, at: Int64(SnapshotFormat.headerByteCount), chunk: Self.writebackChunk,
                                         bytesPerSecond: writeBytesPerSecond, path: temporaryPath)
                }
            }
            try result.get()
            try files.synchronize(descriptor, path: temporaryPath)
        } catch {
            files.closeFile(descriptor)
            throw error
        }
        files.closeFile(descriptor)
        try files.rename(temporaryPath, to: path)
        try files.synchronizeDirectory(directory)
    }

    /// The newest valid snapshot, or nil if there is none. Invalid files are skipped; use
    /// `load()` to learn which and why.
    public func loadNewest() throws -> (sequence: UInt64, bytes: [UInt8])? {
        try load().newest.map { ($0.sequence, $0.bytes) }
    }

    /// The newest valid snapshot, with every newer file that was skipped and why. A file
    /// that cannot be read (for example `EIO`) is skipped like a damaged one; a directory
    /// that cannot be listed throws.
    public func load() throws -> SnapshotLoad {
        var skipped: [SkippedSnapshot] = []
        let buffer = ByteBuffer()
        for (name, sequence) in try snapshotsNewestFirst() {
            switch validate(name, sequence: sequence, buffer: buffer) {
            case let .success(snapshot): return SnapshotLoad(newest: snapshot, skipped: skipped)
            case let .failure(problem): skipped.append(SkippedSnapshot(file: name, reason: problem.reason))
            }
        }
        return SnapshotLoad(newest: nil, skipped: skipped)
    }

    /// Keeps the `count` newest valid snapshots and any damaged files newer than them, and
    /// deletes every older snapshot file and every leftover `.tmp` file. When fewer than
    /// `count` snapshots are valid, no snapshot is deleted. Returns the deleted file names.
    @discardableResult
    /// `written` names snapshots this process wrote and synced itself (by sequence): they count
    /// as valid without being read back, so that a large state is not read and checksummed
    /// again after every snapshot.
    public func prune(keeping count: Int, written: Set<UInt64> = []) throws -> [String] {
        precondition(count >= 1, "prune must keep at least one snapshot")
        let buffer = ByteBuffer()
        var doomed = try files.listDirectory(directory).filter { $0.hasSuffix(SnapshotFormat.temporarySuffix) }
        var validCount = 0
        for (name, sequence) in try snapshotsNewestFirst() {
            if validCount >= count {
                doomed.append(name)
            } else if written.contains(sequence) {
                validCount += 1
            } else if case .success = validate(name, sequence: sequence, buffer: buffer) {
                validCount += 1
            }
        }
        for name in doomed {
            try files.unlinkGradually(joinPath(directory, name), step: 8 << 20)
        }
        if !doomed.isEmpty { try files.synchronizeDirectory(directory) }
        return doomed
    }

    private func snapshotsNewestFirst() throws(LogError) -> [(name: String, sequence: UInt64)] {
        try files.listDirectory(directory)
            .compactMap { name in SnapshotFormat.sequence(ofName: name).map { (name, $0) } }
            .sorted { $0.sequence > $1.sequence }
    }

    private func validate(_ name: String, sequence: UInt64, buffer: ByteBuffer) -> Result<Snapshot, SnapshotProblem> {
        defer { buffer.shrinkIfLarge() }
        do {
            let file = try buffer.readFile(joinPath(directory, name), byteCount: nil, files: files)
            return SnapshotFormat.decode(file, nameSequence: sequence)
        } catch {
            return .failure(SnapshotProblem("unreadable: \(error)"))
        }
    }
}
