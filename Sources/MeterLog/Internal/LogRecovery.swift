#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Validates every segment of a log directory when it opens, and decides for each bad spot
/// whether it is a torn tail or corruption.
///
/// The rule (TigerBeetle's distinction, RocksDB's `kTolerateCorruptedTailRecords` versus
/// `kAbsoluteConsistency`): bad bytes are a torn tail only if they are in the last segment
/// and no frame that validates on its own follows them at any 8-byte-aligned offset (a
/// self-valid frame at the bad offset itself, with the wrong sequence or chain link, is never
/// torn either: a torn write cannot produce a matching checksum). A torn
/// tail is cut off, keeping a copy. Anything else is corruption: open throws, unless
/// `repair` is set, in which case the log is cut at the bad spot (keeping a copy) and every
/// later segment is set aside by renaming, because its chain no longer connects.
struct LogRecovery {
    let directory: String
    let repair: Bool
    let files: FileOperations
    private(set) var report = RecoveryReport()
    /// The first sequence for a new first segment if no segment survives.
    private(set) var firstSequenceIfEmpty: UInt64 = 1
    private let buffer = ByteBuffer()

    init(directory: String, repair: Bool, files: FileOperations) {
        self.directory = directory
        self.repair = repair
        self.files = files
    }

    /// Validates the segments in order and returns those kept, oldest first.
    mutating func run() throws(LogError) -> [SegmentInfo] {
        let segments = try files.listDirectory(directory)
            .compactMap { name in SegmentName.firstSequence(of: name).map { (name: name, firstSequence: $0) } }
            .sorted { $0.firstSequence < $1.firstSequence }
        if let first = segments.first { firstSequenceIfEmpty = max(first.firstSequence, 1) }
        var kept: [SegmentInfo] = []
        for (index, segment) in segments.enumerated() {
            let isLast = index == segments.count - 1
            let later = segments[(index + 1)...].map(\.name)
            let bytes = try buffer.readFile(joinPath(directory, segment.name), byteCount: nil, files: files)
            defer { buffer.shrinkIfLarge() }

            let header: SegmentHeader
            switch SegmentHeader.decode(bytes) {
            case let .success(decoded):
                header = decoded
            case let .failure(problem):
                // A crash while creating a segment leaves a short or zeroed header and no record.
                let minimumSequence = max(segment.firstSequence, 1) - 1
                if isLast, SegmentScanner.findValidFrame(in: bytes, from: 0, minimumSequence: minimumSequence) == nil {
                    report.tornTail = try setAside(segment.name, byteCount: bytes.count, kind: "torn", reason: problem.description)
                    try files.synchronizeDirectory(directory)
                    return kept
                }
                try handleCorruption(segment.name, offset: 0, reason: problem.description, bytes: bytes, later: later)
                return kept
            }
            if let mismatch = headerMismatch(header, nameSequence: segment.firstSequence, previous: kept.last) {
                try handleCorruption(segment.name, offset: 0, reason: mismatch, bytes: bytes, later: later)
                return kept
            }

            let scan = SegmentScanner.scan(bytes, header: header) { _, _, _ in }
            let info = SegmentInfo(name: segment.name, scan: scan)
            if let (offset, problem) = scan.problem {
                let follower = SegmentScanner.findValidFrame(in: bytes, from: offset, minimumSequence: scan.lastSequence)
                if isLast, follower == nil, !problem.isMisplacedValidFrame {
                    report.tornTail = try cut(segment.name, at: offset, bytes: bytes, kind: "torn", reason: problem.description)
                    kept.append(info)
                    return kept
                }
                var reason = problem.description
                if let follower, follower.offset > offset {
                    reason += "; a valid frame with sequence \(follower.sequence) follows at offset \(follower.offset)"
                } else if !isLast {
                    reason += "; \(later.count) later segment(s) exist"
                }
                try handleCorruption(segment.name, offset: offset, reason: reason, bytes: bytes, later: later)
                kept.append(info)
                return kept
            }
            kept.append(info)
            if !isLast && !scan.isSealed {
                let reason = "segment is not sealed but \(later.count) later segment(s) exist"
                try handleCorruption(segment.name, offset: bytes.count, reason: reason, bytes: bytes, later: later)
                return kept
            }
        }
        return kept
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

    /// Throws `.corruption` unless repairing; when repairing, cuts `segment` at `offset`
    /// (setting the whole file aside when `offset` is 0), sets aside every later segment, and
    /// reports each change loudly.
    private mutating func handleCorruption(
        _ segment: String,
        offset: Int,
        reason: String,
        bytes: UnsafeRawBufferPointer,
        later: [String]
    ) throws(LogError) {
        guard repair else { throw .corruption(segment: segment, offset: Int64(offset), reason: reason) }
        var repairs: [RecoveryReport.Truncation] = []
        if offset == 0 {
            repairs.append(try setAside(segment, byteCount: bytes.count, kind: "corrupt", reason: reason))
        } else if offset < bytes.count {
            repairs.append(try cut(segment, at: offset, bytes: bytes, kind: "corrupt", reason: reason))
        }
        for name in later {
            let byteCount = try files.fileByteCount(atPath: joinPath(directory, name))
            let reason = "follows repaired corruption in \(segment)"
            repairs.append(try setAside(name, byteCount: Int(byteCount), kind: "corrupt", reason: reason))
        }
        try files.synchronizeDirectory(directory)
        // Repairs drop records that may have been acknowledged: say so even if the caller
        // forgets to log the report.
        for repair in repairs {
            writeToStandardError("meterd log: REPAIRED CORRUPTION: \(repair)\n")
        }
        report.repairs += repairs
    }

    /// Copies `bytes[offset...]` to `<segment>.<kind>-<offset>`, then truncates the segment
    /// at `offset` and syncs it. The copy is durable before the original bytes go.
    private func cut(
        _ segment: String,
        at offset: Int,
        bytes: UnsafeRawBufferPointer,
        kind: String,
        reason: String
    ) throws(LogError) -> RecoveryReport.Truncation {
        let path = joinPath(directory, segment)
        let copyPath = files.unusedPath("\(path).\(kind)-\(offset)")
        try files.createFile(copyPath, contents: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
        try files.synchronizeDirectory(directory)
        let descriptor = try files.openFile(path, flags: O_WRONLY)
        defer { files.closeFile(descriptor) }
        try files.truncate(descriptor, to: Int64(offset), path: path)
        try files.synchronize(descriptor, path: path)
        return RecoveryReport.Truncation(
            segment: segment,
            offset: Int64(offset),
            byteCount: Int64(bytes.count - offset),
            copy: lastPathComponent(copyPath),
            reason: reason
        )
    }

    /// Renames a whole segment to `<segment>.<kind>-0` so it no longer counts as a segment.
    /// The caller syncs the directory.
    private func setAside(_ segment: String, byteCount: Int, kind: String, reason: String) throws(LogError) -> RecoveryReport.Truncation {
        let path = joinPath(directory, segment)
        let copyPath = files.unusedPath("\(path).\(kind)-0")
        try files.rename(path, to: copyPath)
        return RecoveryReport.Truncation(
            segment: segment,
            offset: 0,
            byteCount: Int64(byteCount),
            copy: lastPathComponent(copyPath),
            reason: reason
        )
    }
}

/// Writes `text` to file descriptor 2, ignoring failure.
private func writeToStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
        _ = write(2, bytes.baseAddress, bytes.count)
    }
}
