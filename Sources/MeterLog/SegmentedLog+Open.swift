#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SegmentedLog {
    /// Opens (creating if needed) the log in `directory`, validating every record.
    ///
    /// A torn tail is cut off and reported; other damage throws `LogError.corruption` unless
    /// `options.repair` is set (see `RecoveryReport`). Damage that the snapshot at
    /// `options.snapshotSequence` covers is set aside without losing state (see `LogRecovery`). Throws `LogError.directoryLocked` if
    /// another open log holds the directory.
    public static func open(directory: String, options: LogOptions = LogOptions()) throws -> (log: SegmentedLog, recovery: RecoveryReport) {
        let files = FileOperations(systemCalls: options.systemCalls)
        try files.makeDirectoryIfMissing(directory)
        let lockDescriptor = try lock(directory, files: files)
        do {
            try deleteLeftoverDetachedSegments(in: directory, files: files)
            var recovery = LogRecovery(directory: directory, repair: options.repair, snapshotSequence: options.snapshotSequence, files: files)
            var segments = try recovery.run()
            var report = recovery.report
            let spares = SparePreparer(directory: directory, byteCount: options.segmentSizeBytes, files: files)
            try spares.adoptLeftovers()
            let activeDescriptor: Int32
            if let last = segments.last, !last.isSealed {
                let path = joinPath(directory, last.name)
                activeDescriptor = try files.openFile(path, flags: O_WRONLY)
                do {
                    if last.isPreallocated { try preallocate(activeDescriptor, path: path, byteCount: options.segmentSizeBytes, files: files) }
                } catch {
                    files.closeFile(activeDescriptor)
                    throw error
                }
            } else {
                // No segment yet, or a crash after sealing and before the next one existed.
                let created = try installSegment(
                    spares.take() ?? prepareSpare(directory: directory, byteCount: options.segmentSizeBytes, files: files),
                    in: directory,
                    firstSequence: segments.last.map { $0.lastSequence + 1 } ?? recovery.firstSequenceIfEmpty,
                    previousChecksum: segments.last?.finalChecksum ?? 0,
                    files: files
                )
                segments.append(created.info)
                report.createdSegment = created.info.name
                activeDescriptor = created.descriptor
            }
            spares.start()
            report.segmentCount = segments.count
            report.recordCount = segments.reduce(0) { $0 + $1.recordCount }
            report.firstSequence = segments[0].firstSequence
            report.lastSequence = segments[segments.count - 1].lastSequence
            let log = SegmentedLog(
                directory: directory,
                options: options,
                files: files,
                segments: segments,
                activeDescriptor: activeDescriptor,
                lockDescriptor: lockDescriptor,
                spares: spares
            )
            return (log, report)
        } catch {
            files.closeFile(lockDescriptor)
            throw error
        }
    }

    /// Seals the active segment and starts the next one (format comment, "Sealing").
    func roll() throws(LogError) {
        var active = segments[segments.count - 1]
        let path = activePath
        var sealPayload = [UInt8](repeating: 0, count: LogFormat.sealPayloadByteCount)
        sealPayload.withUnsafeMutableBytes { payload in
            payload.storeBytes(of: active.recordCount.littleEndian, toByteOffset: 0, as: UInt64.self)
            payload.storeBytes(of: active.lastSequence.littleEndian, toByteOffset: 8, as: UInt64.self)
        }
        var seal = [UInt8](repeating: 0, count: LogFormat.frameByteCount(payloadByteCount: sealPayload.count))
        let sealChecksum = seal.withUnsafeMutableBytes { frame in
            sealPayload.withUnsafeBytes { payload in
                FrameCodec.encode(
                    into: frame.baseAddress.unsafelyUnwrapped,
                    type: LogFormat.sealType,
                    sequence: active.lastSequence,
                    previousChecksum: active.finalChecksum,
                    payload: payload
                )
            }
        }
        let sealedByteCount = active.byteCount + Int64(seal.count)
        try writeAll(seal, to: activeDescriptor, at: active.byteCount, path: path, files: files)
        // A sealed segment ends at its seal: the unused preallocated zeros are given back, so
        // sealed segments take only the space of their records.
        if active.isPreallocated { try files.truncate(activeDescriptor, to: sealedByteCount, path: path) }
        // fsync, not fdatasync: the seal and the file size must be durable before the next
        // segment exists, since recovery requires every non-last segment to be sealed.
        try files.synchronize(activeDescriptor, path: path)
        files.closeFile(activeDescriptor)
        activeDescriptor = -1
        active.byteCount = sealedByteCount
        active.isSealed = true
        active.finalChecksum = sealChecksum
        segments[segments.count - 1] = active

        // The spare the preparer thread made while this segment filled; made here only if it
        // failed (then its error, if it recurs, is this append's).
        var spare: SpareSegment
        if let prepared = spares.take() {
            spare = prepared
        } else {
            spare = try Self.prepareSpare(directory: directory, byteCount: options.segmentSizeBytes, files: files)
        }
        let created = try Self.installSegment(
            spare,
            in: directory,
            firstSequence: active.lastSequence + 1,
            previousChecksum: sealChecksum,
            files: files
        )
        segments.append(created.info)
        activeDescriptor = created.descriptor
        spares.requestSpare()
    }

    /// Prepares a spare on the calling thread.
    static func prepareSpare(directory: String, byteCount: Int, files: FileOperations) throws(LogError) -> SpareSegment {
        guard let spare = try SparePreparer.prepare(directory: directory, byteCount: byteCount, files: files) else {
            preconditionFailure("a preparation that is never asked to stop finishes")
        }
        return spare
    }

    /// Turns a spare into the segment starting at `firstSequence`: writes its header over the
    /// zeros, fdatasyncs it (its blocks and size were fsynced when it was prepared), renames it
    /// to the segment's name and fsyncs the directory. Returns its open write descriptor.
    static func installSegment(
        _ spare: SpareSegment,
        in directory: String,
        firstSequence: UInt64,
        previousChecksum: UInt32,
        files: FileOperations
    ) throws(LogError) -> (descriptor: Int32, info: SegmentInfo) {
        let header = SegmentHeader(firstSequence: firstSequence, previousChecksum: previousChecksum)
        let name = SegmentName.make(firstSequence: firstSequence)
        let path = joinPath(directory, name)
        do throws(LogError) {
            // rename replaces silently; a segment of that name must never be overwritten.
            guard access(path, F_OK) != 0 else { throw .io(operation: "install spare segment", path: path, errno: EEXIST) }
            try writeAll(header.encoded(), to: spare.descriptor, at: 0, path: spare.path, files: files)
            try files.synchronizeData(spare.descriptor, path: spare.path)
            try files.rename(spare.path, to: path)
            try files.synchronizeDirectory(directory)
        } catch {
            files.closeFile(spare.descriptor)
            throw error
        }
        return (spare.descriptor, SegmentInfo(name: name, header: header))
    }

    /// Zero-fills the active segment from its end up to `byteCount` (after a torn tail was cut,
    /// or a clean close gave the unused space back) and fsyncs it, so appends overwrite
    /// allocated blocks again.
    static func preallocate(_ descriptor: Int32, path: String, byteCount: Int, files: FileOperations) throws(LogError) {
        let current = try files.fileByteCount(descriptor, path: path)
        guard current < Int64(byteCount) else { return }
        _ = try writeZeros(descriptor, from: current, to: Int64(byteCount), path: path, files: files)
        try files.synchronize(descriptor, path: path)
    }

    /// Takes the directory's exclusive lock; held until the descriptor is closed.
    private static func lock(_ directory: String, files: FileOperations) throws(LogError) -> Int32 {
        let descriptor = try files.openFile(directory, flags: O_RDONLY | O_DIRECTORY)
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let error = errno
            files.closeFile(descriptor)
            if error == EWOULDBLOCK { throw .directoryLocked(path: directory) }
            throw .io(operation: "flock", path: directory, errno: error)
        }
        return descriptor
    }
}

/// Writes all of `bytes` at `offset` of `descriptor`.
func writeAll(_ bytes: [UInt8], to descriptor: Int32, at offset: Int64, path: String, files: FileOperations) throws(LogError) {
    let result: Result<Void, LogError> = bytes.withUnsafeBytes { buffer in
        Result { () throws(LogError) in try files.writeAll(descriptor, buffer, at: offset, path: path) }
    }
    try result.get()
}
