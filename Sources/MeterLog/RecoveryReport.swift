/// What `SegmentedLog.open` found and changed while validating the log.
///
/// A clean open changes nothing. Every bad spot found is described in `damage`, which says
/// whether the recovered state lost anything (`Damage.firstLostSequence`). A torn tail (bytes
/// of the last segment that no valid record follows) is cut off and reported in `tornTail`.
/// Entries in `repairs` are files cut or set aside for any other reason: damage that
/// `LogOptions.repair` allowed to be cut, and segments that a snapshot covers and that no
/// longer connect to the log after a damaged record. Every cut keeps a copy of the bytes in
/// the directory. The server must log damage that lost records as errors.
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

    /// One frame read from damaged bytes as far as they go, so that the owner of the log can
    /// say which records were lost. Its fields failed the checksum (or were cut short), so any
    /// of them may be wrong.
    public struct DamagedRecord: Sendable, Equatable {
        /// The type byte as stored.
        public var type: UInt8
        /// The sequence as stored.
        public var sequence: UInt64
        /// The payload bytes that are present, at most the stored length.
        public var payload: [UInt8]
        /// Whether all of the stored length was present.
        public var isComplete: Bool
    }

    /// A bad spot in the log and what recovery decided about it.
    public struct Damage: Sendable, Equatable, CustomStringConvertible {
        /// The segment file holding the bad bytes.
        public var segment: String
        /// The offset of the first bad byte in that file.
        public var offset: Int64
        /// Why the bytes there are not the next valid record.
        public var reason: String
        /// Whether this is a torn tail (nothing valid follows it) rather than corruption.
        public var isTornTail: Bool
        /// How many bytes from `offset` were not valid records (to the end of the segment).
        public var damagedByteCount: Int64
        /// The snapshot position recovery decided with (`LogOptions.snapshotSequence`).
        public var snapshotSequence: UInt64
        /// The last sequence whose record was valid before the damage.
        public var lastValidSequence: UInt64
        /// The first sequence whose effect is not in the recovered state (snapshot plus the
        /// kept log); every later record of the old log is gone too. `nil` when the snapshot
        /// covers every dropped record, so nothing was lost.
        public var firstLostSequence: UInt64?
        /// The frames in the damaged bytes as far as they can be read (at most 1,000).
        public var damagedRecords: [DamagedRecord]

        /// Whether records were lost, not just damaged bytes the snapshot covers.
        public var lostRecords: Bool { firstLostSequence != nil }

        public var description: String {
            var text = "\(isTornTail ? "torn tail" : "corruption") in \(segment) at offset \(offset) (\(damagedByteCount) bytes): \(reason)"
            if let firstLostSequence {
                text += "; records from sequence \(firstLostSequence) on were dropped"
            } else {
                text += "; the snapshot at sequence \(snapshotSequence) covers every dropped record, no state was lost"
            }
            return text
        }
    }

    /// The damage found, oldest first.
    public var damage: [Damage] = []
    /// The torn tail cut from the end of the log, if there was one.
    public var tornTail: Truncation?
    /// Files cut or set aside other than a torn tail (see the type's comment).
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

    /// Whether open found no damage and changed nothing.
    public var isClean: Bool { damage.isEmpty && tornTail == nil && repairs.isEmpty }

    public var description: String {
        var lines = ["log opened: \(segmentCount) segments, \(recordCount) records, sequences \(firstSequence)...\(lastSequence)"]
        for found in damage { lines.append("\(found.lostRecords ? "ERROR" : "WARNING"): \(found)") }
        if let tornTail { lines.append("torn tail truncated: \(tornTail)") }
        for repair in repairs { lines.append("REPAIRED CORRUPTION: \(repair)") }
        if let createdSegment { lines.append("created segment \(createdSegment)") }
        return lines.joined(separator: "\n")
    }
}
