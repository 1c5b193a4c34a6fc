#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A zero-filled, fsynced file of the segment size, open for writing, waiting to become the
/// next segment (docs/log-format.md, "Preallocated segments").
struct SpareSegment {
    var descriptor: Int32
    var path: String
}

/// Prepares the next segment file on a background thread, as etcd's `wal/file_pipeline.go`
/// does, so that a roll never waits for a file to be allocated and written.
///
/// The file is written as `log-spare.wal.partial` (zeros up to the segment size, fsync), then
/// renamed to `log-spare.wal.ready` and the directory fsynced: a `.ready` file is therefore
/// always complete, and a `.partial` one is a crash during preparation and is deleted at open.
/// Neither name is a segment name, so recovery never reads them.
///
/// Threads: the preparer thread touches only the spare's own file and the fields below, under
/// `lock`. The writer takes the spare with `take()` (waiting if it is being prepared), turns it
/// into a segment, and only then asks for the next with `requestSpare()`; so the thread never
/// renames over a `.ready` file the writer still holds, and never touches the active segment.
final class SparePreparer: @unchecked Sendable {
    static let partialName = "log-spare.wal.partial"
    static let readyName = "log-spare.wal.ready"

    let directory: String
    let byteCount: Int
    let files: FileOperations

    private let lock = ConditionLock()
    // Guarded by `lock`.
    private var ready: SpareSegment?
    private var isRequested = false
    private var isPreparing = false
    private var isStopping = false
    private var failure: LogError?
    private var preparedCount = 0
    private var thread: pthread_t?

    init(directory: String, byteCount: Int, files: FileOperations) {
        self.directory = directory
        self.byteCount = byteCount
        self.files = files
    }

    deinit { stop() }

    /// At open, before the thread starts: deletes a half-prepared spare, and keeps a ready
    /// one if it has the current segment size (else deletes it: the size may have changed).
    func adoptLeftovers() throws(LogError) {
        let partial = joinPath(directory, Self.partialName)
        if access(partial, F_OK) == 0 { try files.unlink(partial) }
        let readyPath = joinPath(directory, Self.readyName)
        guard access(readyPath, F_OK) == 0 else { return }
        if try files.fileByteCount(atPath: readyPath) == Int64(byteCount) {
            let descriptor = try files.openFile(readyPath, flags: O_WRONLY)
            lock.withLock { ready = SpareSegment(descriptor: descriptor, path: readyPath) }
        } else {
            try files.unlink(readyPath)
        }
    }

    /// Starts the thread and, unless a spare is ready, asks it for one.
    func start() {
        precondition(thread == nil)
        thread = startThread { [self] in run() }
        requestSpare()
    }

    /// Asks the thread to prepare a spare if none is ready.
    func requestSpare() {
        lock.withLock {
            if ready == nil { isRequested = true }
            lock.broadcast()
        }
    }

    /// The ready spare, waiting while one is being prepared; nil if none is ready or coming
    /// (the last preparation failed, or the thread was never asked): the caller then prepares
    /// one itself, so a failure surfaces as the writer's error.
    func take() -> SpareSegment? {
        lock.withLock {
            while ready == nil && failure == nil && (isRequested || isPreparing) && !isStopping { lock.wait() }
            failure = nil
            defer { ready = nil }
            return ready
        }
    }

    /// Waits until the thread is idle; returns whether a spare is ready (for tests).
    func waitUntilIdle() -> Bool {
        lock.withLock {
            while (isRequested || isPreparing) && failure == nil && !isStopping { lock.wait() }
            return ready != nil
        }
    }

    /// How many spares the thread has finished preparing (for tests).
    var preparedSpareCount: Int { lock.withLock { preparedCount } }

    /// Stops the thread (abandoning a preparation part way: the `.partial` file is deleted at
    /// the next open) and closes the ready spare's descriptor, keeping its file for reuse.
    func stop() {
        let running: pthread_t? = lock.withLock {
            isStopping = true
            lock.broadcast()
            defer { thread = nil }
            return thread
        }
        if let running { pthread_join(running, nil) }
        lock.withLock {
            if let spare = ready { files.closeFile(spare.descriptor) }
            ready = nil
        }
    }

    private func run() {
        lock.lock()
        while !isStopping {
            guard isRequested && ready == nil else {
                lock.wait()
                continue
            }
            isRequested = false
            isPreparing = true
            lock.unlock()
            let result = Result { () throws(LogError) in
                try Self.prepare(directory: directory, byteCount: byteCount, files: files) { [self] in
                    lock.withLock { isStopping }
                }
            }
            lock.lock()
            isPreparing = false
            switch result {
            case let .success(spare?):
                ready = spare
                preparedCount += 1
            case .success(nil):
                break
            case let .failure(error):
                failure = error
            }
            lock.broadcast()
        }
        lock.unlock()
    }

    /// Writes a spare: zeros up to `byteCount` in `.partial`, fsync, rename to `.ready`, fsync
    /// of the directory. Returns nil if `shouldStop` said so part way.
    static func prepare(
        directory: String,
        byteCount: Int,
        files: FileOperations,
        shouldStop: () -> Bool = { false }
    ) throws(LogError) -> SpareSegment? {
        let partial = joinPath(directory, partialName)
        let readyPath = joinPath(directory, readyName)
        if access(partial, F_OK) == 0 { try files.unlink(partial) }
        let descriptor = try files.openFile(partial, flags: O_RDWR | O_CREAT | O_EXCL)
        do {
            guard try writeZeros(descriptor, from: 0, to: Int64(byteCount), path: partial, files: files, shouldStop: shouldStop) else {
                files.closeFile(descriptor)
                try files.unlink(partial)
                return nil
            }
            try files.synchronize(descriptor, path: partial)
            try files.rename(partial, to: readyPath)
            try files.synchronizeDirectory(directory)
        } catch {
            files.closeFile(descriptor)
            throw error
        }
        return SpareSegment(descriptor: descriptor, path: readyPath)
    }
}

/// Writes zeros over `start..<end` of `descriptor` in 1 MiB writes, so the blocks are allocated
/// and written (docs/log-format.md says why not `posix_fallocate`). Returns false if
/// `shouldStop` asked to give up between two writes.
func writeZeros(
    _ descriptor: Int32,
    from start: Int64,
    to end: Int64,
    path: String,
    files: FileOperations,
    shouldStop: () -> Bool = { false }
) throws(LogError) -> Bool {
    let chunkByteCount = 1 << 20
    let zeros = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(min(Int64(chunkByteCount), max(end - start, 1))), alignment: 16)
    defer { zeros.deallocate() }
    zeros.initializeMemory(as: UInt8.self, repeating: 0)
    var offset = start
    while offset < end {
        if shouldStop() { return false }
        let count = Int(min(Int64(zeros.count), end - offset))
        try files.writeAll(descriptor, UnsafeRawBufferPointer(rebasing: zeros[0..<count]), at: offset, path: path)
        offset += Int64(count)
    }
    return true
}
