#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the owner of a log may know about one segment file, for retention decisions.
public struct SegmentSummary: Sendable, Equatable {
    public var name: String
    public var firstSequence: UInt64
    /// `firstSequence - 1` while the segment holds no record.
    public var lastSequence: UInt64
    public var isSealed: Bool
    /// The file's modification time (Unix milliseconds): about when its last record was written.
    public var modifiedAtMilliseconds: Int64
    /// Bytes of the header and records, without the preallocated zeros after them.
    public var usedBytes: Int64 = 0
}

extension SegmentedLog {
    /// The segments in order, oldest first, with their sequence ranges and modification times.
    public func segmentSummaries() -> [SegmentSummary] {
        segments.map { segment in
            var status = stat()
            let path = joinPath(directory, segment.name)
            let modified: Int64 = stat(path, &status) == 0
                ? Int64(status.st_mtim.tv_sec) * 1000 + Int64(status.st_mtim.tv_nsec) / 1_000_000
                : 0
            return SegmentSummary(name: segment.name, firstSequence: segment.firstSequence,
                                  lastSequence: segment.lastSequence, isSealed: segment.isSealed,
                                  modifiedAtMilliseconds: modified, usedBytes: segment.byteCount)
        }
    }
}
