// MeterLog on-disk format, version 2 (docs/log-format.md says the same at more length).
//
// A log is one directory. While open, the directory is locked with flock(LOCK_EX), so a
// second writer (in any process) fails with LogError.directoryLocked. All integers are
// little-endian. CRC-32C is Castagnoli, as zlib's crc32 conventions (check value
// "123456789" -> 0xE3069283).
//
// Segments. Files named log-<first sequence, 20 zero-padded digits>.wal hold the records in
// order; sequences start at 1 and each record takes the next one. Each file starts with a
// 32-byte header:
//
//     offset size field
//          0    8 magic "MTRLOG01"
//          8    4 version (2; version 1 segments are still read, see below)
//         12    4 reserved, zero
//         16    8 first sequence (must match the file name)
//         24    4 previous checksum: the previous segment's final chained checksum
//                 (0 for the first segment of a new log)
//         28    4 header checksum: CRC-32C of bytes 0..<28
//
// Frames. From offset 32, frames follow back to back, each at an 8-byte-aligned offset:
//
//     offset size field
//          0    4 payload length in bytes (at most 64 MiB)
//          4    1 type: 1...254 records, 255 seal; 0 is never valid (zeroed disk blocks)
//          5    3 reserved, zero
//          8    8 sequence
//         16    4 previous checksum: the checksum of the frame before (for a segment's
//                 first frame, the header's previous checksum)
//         20    4 checksum: CRC-32C of frame bytes 0..<20, then the payload
//         24    n payload, then zero padding to the next multiple of 8
//
// Alignment keeps the length word inside one 8-byte word, and so inside one disk sector: it
// is never torn (etcd wal/doc.go). The checksum covers the previous frame's checksum, so the
// frames form a chain as in etcd; storing that link in the frame (instead of only seeding
// the CRC with it) makes every frame checkable on its own, which recovery needs to ask
// "does any valid frame follow this damage?". Sequence and link are then checked against the
// frame before, so a stale, reordered or foreign frame is rejected.
//
// Preallocation (version 2). A segment file is created at LogOptions.segmentSizeBytes,
// zero-filled and fsynced, before it is needed: a thread prepares the next one as
// log-spare.wal.partial, renames it log-spare.wal.ready (etcd's wal/file_pipeline.go). Appends
// then overwrite allocated blocks, so fdatasync writes no metadata. Zeros from a frame
// boundary to the end of a version 2 file are unused space: the clean end of its records.
// Version 1 segments (written before preallocation, never preallocated) are read by their own
// rule, in which zeros after the last frame are damage; new segments are always version 2.
//
// Sealing. When an append does not fit in the rest of the active segment's size (and the
// segment holds at least one record), the log writes a seal frame (type 255, sequence = the
// segment's last sequence, payload = record count u64 then last sequence u64), truncates the
// segment to its seal, fsyncs it, then writes the next segment's header (the seal's checksum
// as previous checksum) into the spare, fdatasyncs it, renames it log-<first sequence>.wal
// and fsyncs the directory. An append is never split, so a segment exceeds the size only when
// one append alone is larger. Every segment but the last must end with a valid seal. A clean
// close truncates the active segment to its records; open zero-fills it again.
//
// Recovery on open validates every frame of every segment. Bad bytes at the end of the last
// segment (not all zeros, in version 2), with no self-valid frame (checksum good, type not 0,
// sequence not below the last good one) at any later 8-byte-aligned offset, are a torn tail
// from a crash mid-append: they are copied to <segment>.torn-<offset> and cut off. Anything
// else (damage followed by a valid frame, a valid frame out of sequence or chain, damage in a
// sealed segment, a missing seal, a header that does not chain) is corruption: open throws LogError.corruption, or with
// LogOptions.repair cuts there, copies the bytes to <segment>.corrupt-<offset>, renames later
// segments to <segment>.corrupt-0 and reports every change. Damage whose records the snapshot
// at LogOptions.snapshotSequence covers loses nothing: the log restarts after the damage or
// after the snapshot (LogRecovery). Files are created 0600, the directory 0700.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The write-ahead log: an append-only sequence of `LogRecord`s numbered from 1, stored in
/// checksummed, chained segment files (format at the top of this file).
///
/// One writer owns a `SegmentedLog`; it is not thread-safe and not `Sendable`. Appends are
/// written with one `pwrite` each but are durable only after `sync()`, so the owner acknowledges
/// records to clients only after a sync covering them. After any failed write or sync the log
/// is *failed*: every later append and sync throws `LogError.failed`, because after a failed
/// fsync the page cache may hold data that never reached the disk; reopening rereads and
/// revalidates the files.
public final class SegmentedLog {
    /// The log's directory.
    public let directory: String
    /// The options the log was opened with.
    public let options: LogOptions

    enum State {
        case open
        case failed(LogError)
        case closed
    }

    let files: FileOperations
    /// Oldest first; the last one is the active segment that appends go to.
    var segments: [SegmentInfo]
    var state = State.open
    /// Write descriptor of the active segment; -1 while a roll is in progress or after close.
    var activeDescriptor: Int32
    private var lockDescriptor: Int32
    private let encodeBuffer = ByteBuffer()
    /// Prepares the next segment file on its own thread; `roll()` takes it.
    let spares: SparePreparer

    init(directory: String, options: LogOptions, files: FileOperations, segments: [SegmentInfo], activeDescriptor: Int32, lockDescriptor: Int32, spares: SparePreparer) {
        precondition(!segments.isEmpty, "a log always has an active segment")
        self.directory = directory
        self.options = options
        self.files = files
        self.segments = segments
        self.activeDescriptor = activeDescriptor
        self.lockDescriptor = lockDescriptor
        self.spares = spares
    }

    deinit { close() }

    /// The newest sequence, or `firstSequence - 1` when the log holds no record.
    public var lastSequence: UInt64 { segments[segments.count - 1].lastSequence }

    /// The oldest retained sequence (segments before it were deleted).
    public var firstSequence: UInt64 { segments[0].firstSequence }

    /// Appends `records` as one contiguous write and returns their sequences. Not durable
    /// until `sync()`. Record types must be in `LogRecord.userTypes`.
    @discardableResult
    public func append(_ records: [LogRecord]) throws -> ClosedRange<UInt64> {
        precondition(!records.isEmpty, "append needs at least one record")
        var byteCount = 0
        for record in records {
            Self.checkRecord(type: record.type, payloadByteCount: record.payload.count)
            byteCount += LogFormat.frameByteCount(payloadByteCount: record.payload.count)
        }
        try prepareForAppend(byteCount: byteCount)
        let firstNewSequence = lastSequence + 1
        let destination = encodeBuffer.reserve(byteCount)
        var offset = 0
        var checksum = segments[segments.count - 1].finalChecksum
        var sequence = firstNewSequence
        for record in records {
            checksum = record.payload.withUnsafeBytes { payload in
                FrameCodec.encode(
                    into: destination.baseAddress.unsafelyUnwrapped + offset,
                    type: record.type,
                    sequence: sequence,
                    previousChecksum: checksum,
                    payload: payload
                )
            }
            offset += LogFormat.frameByteCount(payloadByteCount: record.payload.count)
            sequence += 1
        }
        precondition(offset == byteCount)
        try commit(UnsafeRawBufferPointer(destination), recordCount: records.count, finalChecksum: checksum)
        return firstNewSequence...(sequence - 1)
    }

    /// Appends one record whose payload the caller already holds in memory and returns its
    /// sequence. Not durable until `sync()`.
    @discardableResult
    public func append(type: UInt8, payload: UnsafeRawBufferPointer) throws -> UInt64 {
        Self.checkRecord(type: type, payloadByteCount: payload.count)
        try prepareForAppend(byteCount: LogFormat.frameByteCount(payloadByteCount: payload.count))
        let sequence = lastSequence + 1
        let destination = encodeBuffer.reserve(LogFormat.frameByteCount(payloadByteCount: payload.count))
        let checksum = FrameCodec.encode(
            into: destination.baseAddress.unsafelyUnwrapped,
            type: type,
            sequence: sequence,
            previousChecksum: segments[segments.count - 1].finalChecksum,
            payload: payload
        )
        try commit(UnsafeRawBufferPointer(destination), recordCount: 1, finalChecksum: checksum)
        return sequence
    }

    /// Makes every appended record durable with `fdatasync`. Earlier segments were fsynced
    /// when they were sealed.
    public func sync() throws {
        try checkWritable()
        let path = activePath
        let descriptor = activeDescriptor
        try failOnError { () throws(LogError) in try files.synchronizeData(descriptor, path: path) }
    }

    /// Closes the files and releases the directory lock without syncing. Idempotent; any
    /// later use of the log other than `close()` is a programmer error.
    ///
    /// Stops the spare-preparing thread (a ready spare stays for the next open), and unless the
    /// log is failed gives the active segment's unused preallocated zeros back with `ftruncate`,
    /// so a closed log's files end at their last record. The truncation needs no sync: if it is
    /// lost, the zeros are still the clean end. A failed log is left for recovery to judge.
    public func close() {
        spares.stop()
        if activeDescriptor >= 0 {
            if case .open = state, segments[segments.count - 1].isPreallocated {
                _ = try? files.truncate(activeDescriptor, to: segments[segments.count - 1].byteCount, path: activePath)
            }
            files.closeFile(activeDescriptor)
        }
        if lockDescriptor >= 0 { files.closeFile(lockDescriptor) }
        activeDescriptor = -1
        lockDescriptor = -1
        state = .closed
    }

    /// Waits until the spare-preparing thread is idle and returns whether a spare is ready.
    /// For tests that count system calls or need the spare on disk.
    func waitUntilSpareIsIdle() -> Bool { spares.waitUntilIdle() }

    var activePath: String { joinPath(directory, segments[segments.count - 1].name) }

    /// Throws if the log is failed; traps if it is closed.
    func checkWritable() throws(LogError) {
        switch state {
        case .open: return
        case let .failed(error): throw .failed(underlying: error)
        case .closed: preconditionFailure("SegmentedLog used after close()")
        }
    }

    /// Runs `body`; if it throws, the log becomes failed and the error is rethrown as is.
    func failOnError<Result>(_ body: () throws(LogError) -> Result) throws(LogError) -> Result {
        do {
            return try body()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private static func checkRecord(type: UInt8, payloadByteCount: Int) {
        precondition(LogRecord.userTypes.contains(type), "record type \(type) is reserved for the log")
        precondition(payloadByteCount <= LogRecord.maximumPayloadByteCount, "record payload of \(payloadByteCount) bytes exceeds the maximum")
    }

    /// Rolls first if `byteCount` more bytes would not fit in the active segment's size.
    private func prepareForAppend(byteCount: Int) throws(LogError) {
        try checkWritable()
        let active = segments[segments.count - 1]
        if active.byteCount + Int64(byteCount) > Int64(options.segmentSizeBytes) && active.recordCount > 0 {
            try failOnError { () throws(LogError) in try roll() }
        }
    }

    /// Writes encoded frames at the end of the active segment and records their effect.
    private func commit(_ frames: UnsafeRawBufferPointer, recordCount: Int, finalChecksum: UInt32) throws(LogError) {
        defer { encodeBuffer.shrinkIfLarge() }
        var active = segments[segments.count - 1]
        let path = activePath
        let descriptor = activeDescriptor
        try failOnError { () throws(LogError) in try files.writeAll(descriptor, frames, at: active.byteCount, path: path) }
        active.byteCount += Int64(frames.count)
        active.recordCount += UInt64(recordCount)
        active.lastSequence += UInt64(recordCount)
        active.finalChecksum = finalChecksum
        segments[segments.count - 1] = active
    }
}
