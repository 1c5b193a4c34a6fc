#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A reusable, growable block of raw memory for encoding appends and holding a segment read
/// from disk. Reuse avoids a large allocation per append or per segment.
///
/// Segments are read whole with `pread` rather than mapped: a read error then comes back
/// as `EIO` to handle, where a mapping would deliver `SIGBUS` and kill the server.
final class ByteBuffer {
    private(set) var storage: UnsafeMutableRawBufferPointer
    /// Above this size the memory is released after use instead of kept for the next one.
    private let retainedByteCountLimit: Int

    init(initialByteCount: Int = 64 << 10, retainedByteCountLimit: Int = 8 << 20) {
        storage = .allocate(byteCount: initialByteCount, alignment: 16)
        self.retainedByteCountLimit = retainedByteCountLimit
    }

    deinit { storage.deallocate() }

    /// Memory for at least `byteCount` bytes; earlier contents are not kept.
    func reserve(_ byteCount: Int) -> UnsafeMutableRawBufferPointer {
        if storage.count < byteCount {
            storage.deallocate()
            storage = .allocate(byteCount: max(byteCount, storage.count * 2), alignment: 16)
        }
        return UnsafeMutableRawBufferPointer(rebasing: storage[0..<byteCount])
    }

    /// Gives oversized memory back after a large append or read.
    func shrinkIfLarge() {
        if storage.count > retainedByteCountLimit {
            storage.deallocate()
            storage = .allocate(byteCount: 64 << 10, alignment: 16)
        }
    }

    /// Reads the file at `path` into the buffer: its first `byteCount` bytes, or all of it when
    /// `byteCount` is nil. The result is valid until the next use of the buffer. A file
    /// shorter than `byteCount` yields fewer bytes; the caller's validation reports that.
    func readFile(_ path: String, byteCount: Int64?, files: FileOperations) throws(LogError) -> UnsafeRawBufferPointer {
        let descriptor = try files.openFile(path, flags: O_RDONLY)
        defer { files.closeFile(descriptor) }
        let wanted: Int64
        if let byteCount {
            wanted = byteCount
        } else {
            wanted = try files.fileByteCount(descriptor, path: path)
        }
        let destination = reserve(Int(wanted))
        guard let base = destination.baseAddress, wanted > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let read = try files.readFully(descriptor, into: base, count: Int(wanted), at: 0, path: path)
        return UnsafeRawBufferPointer(start: base, count: read)
    }
}
