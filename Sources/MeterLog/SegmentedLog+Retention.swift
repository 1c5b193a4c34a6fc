extension SegmentedLog {
    /// Deletes, oldest first, every segment all of whose records have sequences below
    /// `sequence` (typically the sequence of the newest durable snapshot plus one), never the
    /// active segment, then syncs the directory. Returns the deleted file names.
    ///
    /// Deleting oldest first means a crash part way leaves a contiguous suffix of the log.
    @discardableResult
    public func deleteSegments(before sequence: UInt64) throws -> [String] {
        let detached = detachSegments(before: sequence)
        for name in detached.names { try files.unlink(joinPath(directory, name)) }
        if !detached.isEmpty { try files.synchronizeDirectory(directory) }
        return detached.names
    }

    /// Takes out of the log, without touching any file, every segment `deleteSegments(before:)`
    /// would delete, and returns them for `DetachedSegments.delete()` on another thread, so that
    /// the writer does not wait for the file system to free them (a 64 MiB segment's unlink
    /// holds the journal for milliseconds, and delays the next group commit's fdatasync).
    ///
    /// Until they are deleted the files stay as they were: a crash meanwhile leaves segments
    /// that the snapshot covers, which the next open reads and the next retention deletes.
    public func detachSegments(before sequence: UInt64) -> DetachedSegments {
        if case .closed = state { preconditionFailure("SegmentedLog used after close()") }
        var count = 0
        // A segment's records end just before the next segment's first sequence.
        while count < segments.count - 1, segments[count + 1].firstSequence <= sequence {
            count += 1
        }
        let names = segments.prefix(count).map(\.name)
        segments.removeFirst(count)
        return DetachedSegments(directory: directory, names: names, files: files)
    }

    /// Deletes the segments a previous run detached but had not finished deleting (files named
    /// `<segment>.deleting`). Called at open, before the log is read.
    static func deleteLeftoverDetachedSegments(in directory: String, files: FileOperations) throws(LogError) {
        let leftovers = try files.listDirectory(directory).filter { $0.hasSuffix(DetachedSegments.deletingSuffix) }
        for name in leftovers { try files.unlink(joinPath(directory, name)) }
        if !leftovers.isEmpty { try files.synchronizeDirectory(directory) }
    }
}

/// Log segments taken out of a `SegmentedLog` (`detachSegments(before:)`), oldest first, still
/// on disk until `delete()` removes them. `delete()` may run on any thread, while the log goes
/// on: it touches only these files and the directory entry of each.
public struct DetachedSegments: Sendable {
    /// The suffix a segment gets while it is being deleted: not a segment name, so recovery
    /// never reads a half-truncated segment; open deletes what a crash left.
    static let deletingSuffix = ".deleting"

    let directory: String
    /// The segments' file names, oldest first.
    public let names: [String]
    let files: FileOperations

    /// Whether there is nothing to delete.
    public var isEmpty: Bool { names.isEmpty }

    /// Deletes the segments, oldest first: renames each out of the segment names (and syncs
    /// the directory, so that a crash never leaves a shortened file under a segment name), then
    /// frees each file in 8 MiB cuts (`unlinkGradually`) and syncs the directory again.
    public func delete() throws {
        guard !names.isEmpty else { return }
        var renamed: [String] = []
        for name in names {
            let path = joinPath(directory, name)
            try files.rename(path, to: path + Self.deletingSuffix)
            renamed.append(path + Self.deletingSuffix)
        }
        try files.synchronizeDirectory(directory)
        for path in renamed {
            try files.unlinkGradually(path, step: 8 << 20)
        }
        try files.synchronizeDirectory(directory)
    }
}
