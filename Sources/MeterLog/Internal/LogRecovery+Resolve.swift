#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension LogRecovery {
    /// Decides what to do about `site` (see `LogRecovery`'s comment), then does it. Returns
    /// the kept segments, or nil when the directory must be validated again. Throws, having
    /// changed nothing, when the damage needs `repair` and it is not set.
    mutating func resolve(
        _ site: DamageSite,
        bytes: UnsafeRawBufferPointer,
        kept: [SegmentInfo],
        validPart: SegmentInfo?
    ) throws(LogError) -> [SegmentInfo]? {
        let covered = snapshotSequence
        let lastValid = site.lastValidSequence
        let damagedRecords = Self.readDamagedRecords(bytes, from: site.offset)
        var damage = RecoveryReport.Damage(
            segment: site.segment, offset: Int64(site.offset), reason: site.reason, isTornTail: site.isTornTail,
            damagedByteCount: Int64(bytes.count - site.offset), snapshotSequence: covered, lastValidSequence: lastValid,
            firstLostSequence: nil, damagedRecords: damagedRecords
        )

        if site.isTornTail {
            if lastValid >= covered {
                // The routine torn tail: what was not written whole is dropped.
                damage.firstLostSequence = lastValid + 1
                report.damage.append(damage)
                if site.offset == 0 || validPart == nil {
                    report.tornTail = try setAside(site.segment, byteCount: bytes.count, kind: "torn", reason: site.reason)
                    try files.synchronizeDirectory(directory)
                    return kept
                }
                report.tornTail = try cut(site.segment, at: site.offset, bytes: bytes, kind: "torn", reason: site.reason)
                return kept + [validPart.unsafelyUnwrapped]
            }
            // The snapshot is past the last valid record, so it holds their effect: the log
            // continues after the snapshot. Lost only if the damaged bytes held more frames
            // than the snapshot covers.
            if UInt64(damagedRecords.count) > covered - lastValid { damage.firstLostSequence = covered + 1 }
            report.damage.append(damage)
            try restartAfterSnapshot(site, byteCount: bytes.count, damagedKind: "torn")
            return []
        }

        if let resumeSequence = site.resume.sequence, resumeSequence - 1 <= covered {
            guard repair else {
                throw .corruption(segment: site.segment, offset: Int64(site.offset), reason: site.reason
                    + "; the snapshot at sequence \(covered) covers every record before sequence \(resumeSequence), so opening with repair sets the damage aside and loses no state")
            }
            report.damage.append(damage)
            try restart(site, bytes: bytes)
            return nil
        }

        let firstLost = max(lastValid, covered) + 1
        guard repair else {
            throw .corruption(segment: site.segment, offset: Int64(site.offset), reason: site.reason
                + "; records from sequence \(firstLost) on are not in the snapshot (sequence \(covered)): opening with repair drops them, keeping a copy")
        }
        damage.firstLostSequence = firstLost
        report.damage.append(damage)
        if lastValid < covered {
            try restartAfterSnapshot(site, byteCount: bytes.count, damagedKind: "corrupt")
            return []
        }
        var repairs: [RecoveryReport.Truncation] = []
        var result = kept
        if site.offset == 0 || validPart == nil {
            repairs.append(try setAside(site.segment, byteCount: bytes.count, kind: "corrupt", reason: site.reason))
        } else {
            if site.offset < bytes.count {
                repairs.append(try cut(site.segment, at: site.offset, bytes: bytes, kind: "corrupt", reason: site.reason))
            }
            result.append(validPart.unsafelyUnwrapped)
        }
        repairs += try setAsideLater(site, reason: "follows repaired corruption in \(site.segment)")
        try files.synchronizeDirectory(directory)
        announce(repairs)
        return result
    }

    /// Covered damage with valid records after it: the log restarts at the first of them.
    /// The segments before the damage are set aside as covered, the damaged one as corrupt;
    /// for a frame inside the damaged (last) segment, a new segment holding that frame and
    /// the rest of the bytes takes over, its header linking to the frame's stored link.
    private mutating func restart(_ site: DamageSite, bytes: UnsafeRawBufferPointer) throws(LogError) {
        var repairs: [RecoveryReport.Truncation] = []
        var replacement: (temporary: String, name: String)?
        if case let .frame(offset, sequence, previousChecksum) = site.resume {
            let name = SegmentName.make(firstSequence: sequence)
            let temporary = files.unusedPath(joinPath(directory, name) + ".restart")
            var contents = SegmentHeader(firstSequence: sequence, previousChecksum: previousChecksum).encoded()
            contents += UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let created: Result<Void, LogError> = contents.withUnsafeBytes { buffer in
                Result { () throws(LogError) in try files.createFile(temporary, contents: buffer) }
            }
            try created.get()
            replacement = (temporary, name)
        }
        for name in site.names[..<site.index] {
            let byteCount = try files.fileByteCount(atPath: joinPath(directory, name))
            repairs.append(try setAside(name, byteCount: Int(byteCount), kind: "covered",
                                        reason: "covered by the snapshot at sequence \(snapshotSequence); no longer connects past damage in \(site.segment)"))
        }
        repairs.append(try setAside(site.segment, byteCount: bytes.count, kind: "corrupt", reason: site.reason))
        if let replacement {
            try files.rename(replacement.temporary, to: joinPath(directory, replacement.name))
            writeToStandardError("meterd log: restarted the log at \(replacement.name) from offset \(site.resume.offset ?? 0) of \(site.segment)\n")
        }
        try files.synchronizeDirectory(directory)
        announce(repairs)
    }

    /// Sets aside every segment (before the damage as covered, the damaged one as
    /// `damagedKind`, later ones as corrupt) so the log restarts empty after the snapshot.
    private mutating func restartAfterSnapshot(_ site: DamageSite, byteCount: Int, damagedKind: String) throws(LogError) {
        var changes: [RecoveryReport.Truncation] = []
        for name in site.names[..<site.index] {
            let size = try files.fileByteCount(atPath: joinPath(directory, name))
            changes.append(try setAside(name, byteCount: Int(size), kind: "covered",
                                        reason: "covered by the snapshot at sequence \(snapshotSequence); the log restarts after it"))
        }
        changes.append(try setAside(site.segment, byteCount: byteCount, kind: damagedKind, reason: site.reason))
        changes += try setAsideLater(site, reason: "follows damage in \(site.segment); the log restarts after the snapshot")
        try files.synchronizeDirectory(directory)
        firstSequenceIfEmpty = snapshotSequence + 1
        announce(changes)
    }

    private func setAsideLater(_ site: DamageSite, reason: String) throws(LogError) -> [RecoveryReport.Truncation] {
        var changes: [RecoveryReport.Truncation] = []
        for name in site.later {
            let byteCount = try files.fileByteCount(atPath: joinPath(directory, name))
            changes.append(try setAside(name, byteCount: Int(byteCount), kind: "corrupt", reason: reason))
        }
        return changes
    }

    /// Records changes in the report and says so on standard error even if the caller forgets.
    private mutating func announce(_ changes: [RecoveryReport.Truncation]) {
        for change in changes { writeToStandardError("meterd log: REPAIRED CORRUPTION: \(change)\n") }
        report.repairs += changes
    }

    /// The frames in damaged bytes as far as their length words lead, stopping at zeroes.
    static func readDamagedRecords(_ bytes: UnsafeRawBufferPointer, from offset: Int) -> [RecoveryReport.DamagedRecord] {
        var records: [RecoveryReport.DamagedRecord] = []
        var position = max(offset, LogFormat.segmentHeaderByteCount)
        while position + LogFormat.frameHeaderByteCount <= bytes.count && records.count < 1000 {
            let length = Int(bytes.readInteger(UInt32.self, at: position))
            let type = bytes[position + 4]
            guard type != LogFormat.paddingType, length <= LogRecord.maximumPayloadByteCount else { break }
            let payloadStart = position + LogFormat.frameHeaderByteCount
            let available = max(0, min(length, bytes.count - payloadStart))
            if type != LogFormat.sealType {
                records.append(RecoveryReport.DamagedRecord(
                    type: type, sequence: bytes.readInteger(UInt64.self, at: position + 8),
                    payload: Array(UnsafeRawBufferPointer(rebasing: bytes[payloadStart..<(payloadStart + available)])),
                    isComplete: available == length))
            }
            position += LogFormat.frameByteCount(payloadByteCount: length)
        }
        return records
    }

    /// Copies `bytes[offset...]` to `<segment>.<kind>-<offset>`, then truncates the segment
    /// at `offset` and syncs it. The copy is durable before the original bytes go.
    func cut(
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
            segment: segment, offset: Int64(offset), byteCount: Int64(bytes.count - offset),
            copy: lastPathComponent(copyPath), reason: reason
        )
    }

    /// Renames a whole segment to `<segment>.<kind>-0` so it no longer counts as a segment.
    /// The caller syncs the directory.
    func setAside(_ segment: String, byteCount: Int, kind: String, reason: String) throws(LogError) -> RecoveryReport.Truncation {
        let path = joinPath(directory, segment)
        let copyPath = files.unusedPath("\(path).\(kind)-0")
        try files.rename(path, to: copyPath)
        return RecoveryReport.Truncation(
            segment: segment, offset: 0, byteCount: Int64(byteCount), copy: lastPathComponent(copyPath), reason: reason
        )
    }
}

extension DamageSite.Resume {
    /// The offset of a resuming frame in the damaged segment.
    var offset: Int? {
        if case let .frame(offset, _, _) = self { return offset }
        return nil
    }
}

/// Writes `text` to file descriptor 2, ignoring failure.
func writeToStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
        _ = write(2, bytes.baseAddress, bytes.count)
    }
}
