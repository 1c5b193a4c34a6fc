#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Validates every segment of a log directory when it opens, and decides for each bad spot
/// whether it is a torn tail or corruption, and whether the newest snapshot covers it.
///
/// The rule (TigerBeetle's distinction, RocksDB's `kTolerateCorruptedTailRecords` versus
/// `kAbsoluteConsistency`): bad bytes are a torn tail only if they are in the last segment
/// and no frame that validates on its own follows them at any 8-byte-aligned offset (a
/// self-valid frame at the bad offset itself, with the wrong sequence or chain link, is never
/// torn either: a torn write cannot produce a matching checksum). Anything else is corruption.
///
/// Every decision is taken, from the bytes and `snapshotSequence`, before any file changes,
/// so a refusal leaves the directory as it was, and a change always leaves a directory that
/// opens again. What the recovered state can be: the snapshot, then the kept records after it.
///
/// - A torn tail above the snapshot is cut (keeping a copy): records from the damage on are
///   lost, and `Damage.firstLostSequence` says so.
/// - Damage whose dropped records the snapshot all covers (a damaged last record after a
///   clean shutdown, bitrot in an old record) loses no state. The log restarts at the first
///   valid frame after the damage, or after the snapshot: the segments before are set aside
///   (`.covered-0`), the damaged one as `.torn-0` / `.corrupt-0`. For a torn tail this is
///   automatic; for corruption in the middle it needs `repair` (it is bitrot an operator must
///   see), and the refusal says that repair loses nothing.
/// - Corruption in the middle that is not covered throws, or with `repair` cuts at the bad
///   spot (or after the snapshot, if that is further) and sets aside every later segment,
///   because its chain no longer connects.
struct LogRecovery {
    let directory: String
    let repair: Bool
    let snapshotSequence: UInt64
    let files: FileOperations
    var report = RecoveryReport()
    /// The first sequence for a new first segment if no segment survives.
    var firstSequenceIfEmpty: UInt64 = 1
    let buffer = ByteBuffer()

    init(directory: String, repair: Bool, snapshotSequence: UInt64, files: FileOperations) {
        self.directory = directory
        self.repair = repair
        self.snapshotSequence = snapshotSequence
        self.files = files
    }

    /// Validates the segments in order and returns those kept, oldest first.
    mutating func run() throws(LogError) -> [SegmentInfo] {
        // A restart after covered damage changes the files, then validates the directory again
        // from the top, so what is kept was validated as a whole. Each restart sets aside at
        // least one damaged segment, so this ends.
        while true {
            if let kept = try validateOnce() { return kept }
        }
    }

    /// One pass over the directory: the kept segments, or nil when a restart changed files.
    private mutating func validateOnce() throws(LogError) -> [SegmentInfo]? {
        let segments = try files.listDirectory(directory)
            .compactMap { name in SegmentName.firstSequence(of: name).map { (name: name, firstSequence: $0) } }
            .sorted { $0.firstSequence < $1.firstSequence }
        let names = segments.map(\.name)
        firstSequenceIfEmpty = max(segments.first?.firstSequence ?? 1, 1, snapshotSequence + 1)
        var kept: [SegmentInfo] = []
        for (index, segment) in segments.enumerated() {
            let isLast = index == segments.count - 1
            let bytes = try buffer.readFile(joinPath(directory, segment.name), byteCount: nil, files: files)
            defer { buffer.shrinkIfLarge() }
            let previousLastSequence = kept.last?.lastSequence ?? (max(segment.firstSequence, 1) - 1)

            let header: SegmentHeader
            switch SegmentHeader.decode(bytes) {
            case let .success(decoded):
                header = decoded
            case let .failure(.unsupportedVersion(version)):
                // An intact header of a format this code does not know: refuse, never guess.
                throw .unsupportedVersion(segment: segment.name, version: version)
            case let .failure(problem):
                // A crash while creating a segment leaves a short or zeroed header and no record.
                let follower = SegmentScanner.findValidFrame(in: bytes, from: 0, minimumSequence: previousLastSequence)
                let site = DamageSite(
                    index: index, names: names, offset: 0, reason: problem.description,
                    lastValidSequence: previousLastSequence, isTornTail: isLast && follower == nil,
                    resume: resumePoint(in: bytes, after: 0, lastValidSequence: previousLastSequence, segments: segments, index: index)
                )
                return try resolve(site, bytes: bytes, kept: kept, validPart: nil)
            }
            if let mismatch = headerMismatch(header, nameSequence: segment.firstSequence, previous: kept.last) {
                let site = DamageSite(
                    index: index, names: names, offset: 0, reason: mismatch, lastValidSequence: previousLastSequence, isTornTail: false,
                    resume: resumePoint(in: bytes, after: 0, lastValidSequence: previousLastSequence, segments: segments, index: index)
                )
                return try resolve(site, bytes: bytes, kept: kept, validPart: nil)
            }

            let scan = SegmentScanner.scan(bytes, header: header) { _, _, _ in }
            let info = SegmentInfo(name: segment.name, scan: scan)
            if let (offset, problem) = scan.problem {
                // Past the last non-zero byte a preallocated segment holds unused zeros: they
                // are neither damage to report nor bytes worth copying aside.
                let bytes = header.isPreallocated ? UnsafeRawBufferPointer(rebasing: bytes[..<endOfContent(bytes, from: offset)]) : bytes
                let follower = SegmentScanner.findValidFrame(in: bytes, from: offset, minimumSequence: scan.lastSequence)
                var reason = problem.description
                if let follower, follower.offset > offset {
                    reason += "; a valid frame with sequence \(follower.sequence) follows at offset \(follower.offset)"
                } else if !isLast {
                    reason += "; \(segments.count - 1 - index) later segment(s) exist"
                }
                let site = DamageSite(
                    index: index, names: names, offset: offset, reason: reason, lastValidSequence: scan.lastSequence,
                    isTornTail: isLast && follower == nil && !problem.isMisplacedValidFrame,
                    resume: resumePoint(in: bytes, after: offset, lastValidSequence: scan.lastSequence, segments: segments, index: index)
                )
                return try resolve(site, bytes: bytes, kept: kept, validPart: info)
            }
            kept.append(info)
            if !isLast && !scan.isSealed {
                let site = DamageSite(
                    index: index, names: names, offset: bytes.count,
                    reason: "segment is not sealed but \(segments.count - 1 - index) later segment(s) exist",
                    lastValidSequence: scan.lastSequence, isTornTail: false,
                    resume: .segment(firstSequence: segments[index + 1].firstSequence)
                )
                kept.removeLast()
                return try resolve(site, bytes: bytes, kept: kept, validPart: info)
            }
        }
        return kept
    }

    /// Where valid records continue after damage at `offset` of segment `index`: in the last
    /// segment, the first self-valid frame after it with a later sequence; otherwise the next
    /// segment's start. (A sealed segment cannot be restarted part way: its seal counts the
    /// records from its first, and the next segment chains to that seal.)
    private func resumePoint(
        in bytes: UnsafeRawBufferPointer,
        after offset: Int,
        lastValidSequence: UInt64,
        segments: [(name: String, firstSequence: UInt64)],
        index: Int
    ) -> DamageSite.Resume {
        if index + 1 < segments.count { return .segment(firstSequence: segments[index + 1].firstSequence) }
        let start = max(offset + LogFormat.alignment, LogFormat.segmentHeaderByteCount)
        if start < bytes.count, let frame = SegmentScanner.findValidFrame(in: bytes, from: start, minimumSequence: lastValidSequence + 1) {
            return .frame(offset: frame.offset, sequence: frame.sequence, previousChecksum: bytes.readInteger(UInt32.self, at: frame.offset + 16))
        }
        return .none
    }

    /// Why a header that validated on its own does not fit its file name or predecessor.
    private func headerMismatch(_ header: SegmentHeader, nameSequence: UInt64, previous: SegmentInfo?) -> String? {
        if header.firstSequence != nameSequence {
            return "header first sequence \(header.firstSequence) does not match the file name"
        }
        if header.firstSequence == 0 { return "first sequence 0 is invalid; sequences start at 1" }
        guard let previous else { return nil }
        if header.firstSequence != previous.lastSequence + 1 {
            return "segment starts at sequence \(header.firstSequence) but \(previous.name) ends at \(previous.lastSequence)"
        }
        if header.previousChecksum != previous.finalChecksum {
            return "header previous checksum \(hex(header.previousChecksum)) does not chain to \(previous.name)'s final checksum \(hex(previous.finalChecksum))"
        }
        return nil
    }
}

/// A bad spot found by one validation pass, with what recovery needs to decide about it.
struct DamageSite {
    /// Where valid records continue after the damage.
    enum Resume {
        /// Nowhere: the damage runs to the end of the log.
        case none
        /// A frame in the same segment that validates on its own.
        case frame(offset: Int, sequence: UInt64, previousChecksum: UInt32)
        /// The start of the next segment.
        case segment(firstSequence: UInt64)

        var sequence: UInt64? {
            switch self {
            case .none: return nil
            case let .frame(_, sequence, _): return sequence
            case let .segment(firstSequence): return firstSequence
            }
        }
    }

    /// The damaged segment's position in `names`.
    var index: Int
    /// Every segment file name of the pass, oldest first.
    var names: [String]
    var offset: Int
    var reason: String
    /// The last valid record before the damage.
    var lastValidSequence: UInt64
    var isTornTail: Bool
    var resume: Resume

    var segment: String { names[index] }
    var later: ArraySlice<String> { names[(index + 1)...] }
}
