/// What `SegmentedLog.open` found and changed while validating the log.
///
/// A clean open changes nothing. A torn tail (bytes of the last segment that no valid record
/// follows, left by a crash during an unsynced append) is cut off and reported in `tornTail`;
/// this is routine and loses only records that were never synced. Entries in `repairs` appear
/// only when the log was opened with `LogOptions.repair` and mean real damage was cut away:
/// the server must log them as errors. Every cut keeps a copy of the bytes in the directory.
public struct RecoveryReport: Sendable, Equatable, CustomStringConvertible {
    /// Bytes removed from a segment, and the file in the log directory that now holds them.
    public struct Truncation: Sendable, Equatable, CustomStringConvertible {
        /// The segment file name, such as `log-00000000000000000001.wal`.
        public var segment: String
        /// Where the removed bytes started; 0 when the whole segment was set aside.
        public var offset: Int64
        /// How many bytes were removed.
        public var byteCount: Int64
        /// The file name of the copy (or of the renamed segment) in the log directory.
        public var copy: String
        /// Why the bytes were not valid records.
        public var reason: String

        public var description: String {
            "\(segment) at offset \(offset): \(byteCount) bytes moved to \(copy) (\(reason))"
        }
    }

    /// The torn tail cut from the end of the log, if there was one.
    public var tornTail: Truncation?
    /// Damage cut away because `LogOptions.repair` was set; empty otherwise.
    public var repairs: [Truncation] = []
    /// The segment file created because none was open for appending, if any.
    public var createdSegment: String?
    /// How many segments the log holds after opening.
    public var segmentCount = 0
    /// How many records were validated and kept.
    public var recordCount: UInt64 = 0
    /// The oldest retained sequence.
    public var firstSequence: UInt64 = 1
    /// The newest sequence; `firstSequence - 1` when the log holds no record.
    public var lastSequence: UInt64 = 0

    /// Whether open found neither a torn tail nor damage to repair.
    public var isClean: Bool { tornTail == nil && repairs.isEmpty }

    public var description: String {
        var lines = ["log opened: \(segmentCount) segments, \(recordCount) records, sequences \(firstSequence)...\(lastSequence)"]
        if let tornTail { lines.append("torn tail truncated: \(tornTail)") }
        for repair in repairs { lines.append("REPAIRED CORRUPTION: \(repair)") }
        if let createdSegment { lines.append("created segment \(createdSegment)") }
        return lines.joined(separator: "\n")
    }
}
