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
            var recovery = LogRecovery(directory: directory, repair: options.repair, snapshotSequence: options.snapshotSequence, files: files)
            var segments = try recovery.run()
            var report = recovery.report
            let activeDescriptor: Int32
            if let last = segments.last, !last.isSealed {
                activeDescriptor = try files.openFile(joinPath(directory, last.name), flags: O_WRONLY)
            } else {
                // No segment yet, or a crash after sealing and before the next one existed.
                let created = try createSegment(
                    in: directory,
                    firstSequence: segments.last.map { $0.lastSequence + 1 } ?? recovery.firstSequenceIfEmpty,
                    previousChecksum: segments.last?.finalChecksum ?? 0,
                    files: files
                )
                segments.append(created.info)
                report.createdSegment = created.info.name
                activeDescriptor = created.descriptor
            }
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
                lockDescriptor: lockDescriptor
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
        try writeAll(seal, to: activeDescriptor, at: active.byteCount, path: path, files: files)
        // fsync, not fdatasync: the seal and the file size must be durable before the next
        // segment exists, since recovery requires every non-last segment to be sealed.
        try files.synchronize(activeDescriptor, path: path)
        files.closeFile(activeDescriptor)
        activeDescriptor = -1
        active.byteCount += Int64(seal.count)
        active.isSealed = true
        active.finalChecksum = sealChecksum
        segments[segments.count - 1] = active

        let created = try Self.createSegment(
            in: directory,
            firstSequence: active.lastSequence + 1,
            previousChecksum: sealChecksum,
            files: files
        )
        segments.append(created.info)
        activeDescriptor = created.descriptor
    }

    /// Creates a segment file holding only its header, syncs it and the directory, and
    /// returns its open write descriptor.
    static func createSegment(
        in directory: String,
        firstSequence: UInt64,
        previousChecksum: UInt32,
        files: FileOperations
    ) throws(LogError) -> (descriptor: Int32, info: SegmentInfo) {
        let header = SegmentHeader(firstSequence: firstSequence, previousChecksum: previousChecksum)
        let name = SegmentName.make(firstSequence: firstSequence)
        let path = joinPath(directory, name)
        let descriptor = try files.openFile(path, flags: O_WRONLY | O_CREAT | O_EXCL)
        do {
            try writeAll(header.encoded(), to: descriptor, at: 0, path: path, files: files)
            try files.synchronize(descriptor, path: path)
            try files.synchronizeDirectory(directory)
        } catch {
            files.closeFile(descriptor)
            throw error
        }
        return (descriptor, SegmentInfo(name: name, header: header))
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
