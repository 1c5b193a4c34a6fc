extension SegmentedLog {
    /// Deletes, oldest first, every segment all of whose records have sequences below
    /// `sequence` (typically the sequence of the newest durable snapshot plus one), never the
    /// active segment, then syncs the directory. Returns the deleted file names.
    ///
    /// Deleting oldest first means a crash part way leaves a contiguous suffix of the log.
    @discardableResult
    public func deleteSegments(before sequence: UInt64) throws -> [String] {
        if case .closed = state { preconditionFailure("SegmentedLog used after close()") }
        var deleted: [String] = []
        defer { segments.removeFirst(deleted.count) }
        // A segment's records end just before the next segment's first sequence.
        while deleted.count < segments.count - 1, segments[deleted.count + 1].firstSequence <= sequence {
            let name = segments[deleted.count].name
            try files.unlink(joinPath(directory, name))
            deleted.append(name)
        }
        if !deleted.isEmpty { try files.synchronizeDirectory(directory) }
        return deleted
    }
}
