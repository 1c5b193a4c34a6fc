#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File operations with the retrying and error mapping the log needs: `EINTR` is retried,
/// short writes and reads are continued, and every failure becomes `LogError.io` naming the
/// operation, the path and `errno`. Calls that change files go through `SystemCalls`.
struct FileOperations: Sendable {
    let systemCalls: any SystemCalls

    /// Opens `path`; a file it creates gets `mode`, by default 0600: the log and snapshots
    /// hold every tenant's usage, so only the owner may read them (like the 0600 socket).
    func openFile(_ path: String, flags: Int32, mode: mode_t = 0o600) throws(LogError) -> Int32 {
        while true {
            let descriptor = systemCalls.open(path, flags | O_CLOEXEC, mode)
            if descriptor >= 0 { return descriptor }
            if errno != EINTR { throw .io(operation: "open", path: path, errno: errno) }
        }
    }

    /// Closes `descriptor`. Data that matters was synced before, so a close error adds nothing.
    func closeFile(_ descriptor: Int32) {
        _ = systemCalls.close(descriptor)
    }

    /// Writes all of `bytes` at `offset`, continuing after short writes and `EINTR`.
    func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64, path: String) throws(LogError) {
        guard let base = bytes.baseAddress else { return }
        var written = 0
        while written < bytes.count {
            let result = systemCalls.pwrite(descriptor, base + written, bytes.count - written, off_t(offset) + off_t(written))
            if result > 0 {
                written += result
            } else if result < 0, errno == EINTR {
                continue
            } else {
                // pwrite of a regular file returns 0 only if something is badly wrong; report
                // it as an I/O error rather than spin.
                throw .io(operation: "pwrite", path: path, errno: result == 0 ? EIO : errno)
            }
        }
    }

    /// Reads up to `count` bytes at `offset` into `destination`, stopping early only at end
    /// of file; returns how many bytes it read.
    func readFully(_ descriptor: Int32, into destination: UnsafeMutableRawPointer, count: Int, at offset: Int64, path: String) throws(LogError) -> Int {
        var total = 0
        while total < count {
            let result = systemCalls.pread(descriptor, destination + total, count - total, off_t(offset) + off_t(total))
            if result > 0 {
                total += result
            } else if result == 0 {
                break
            } else if errno != EINTR {
                throw .io(operation: "pread", path: path, errno: errno)
            }
        }
        return total
    }

    func synchronizeData(_ descriptor: Int32, path: String) throws(LogError) {
        while systemCalls.fdatasync(descriptor) != 0 {
            if errno != EINTR { throw .io(operation: "fdatasync", path: path, errno: errno) }
        }
    }

    /// Writes `bytes` at `offset` in chunks of `chunk` bytes, starting the writeback of each
    /// chunk as soon as it is written and waiting for the one before it, so that no more than
    /// two chunks are ever dirty or in flight. A large file (a snapshot) then never floods the
    /// device queue ahead of the log's small fdatasyncs. The caller still syncs the file.
    /// With `bytesPerSecond`, it also sleeps between chunks so as not to write faster than that:
    /// on a virtual disk every fdatasync flushes what any file wrote since the last one, so a
    /// snapshot written at full speed makes the log's group commits wait behind it.
    func writePaced(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64, chunk: Int,
                    bytesPerSecond: Int? = nil, path: String) throws(LogError) {
        var start = 0
        var previous: (offset: Int64, count: Int)?
        let began = monotonicNanoseconds()
        while start < bytes.count {
            if let bytesPerSecond, bytesPerSecond > 0, start > 0 {
                let due = began + UInt64(Double(start) / Double(bytesPerSecond) * 1e9)
                let now = monotonicNanoseconds()
                if due > now { usleep(useconds_t(min((due - now) / 1000, 1_000_000))) }
            }
            let end = min(start + chunk, bytes.count)
            let piece = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            try writeAll(descriptor, piece, at: offset + Int64(start), path: path)
            _ = systemCalls.writeBack(descriptor, offset: off_t(offset) + off_t(start), count: off_t(end - start), wait: false)
            if let previous {
                _ = systemCalls.writeBack(descriptor, offset: off_t(previous.offset), count: off_t(previous.count), wait: true)
            }
            previous = (offset + Int64(start), end - start)
            start = end
        }
    }

    func synchronize(_ descriptor: Int32, path: String) throws(LogError) {
        while systemCalls.fsync(descriptor) != 0 {
            if errno != EINTR { throw .io(operation: "fsync", path: path, errno: errno) }
        }
    }

    func truncate(_ descriptor: Int32, to length: Int64, path: String) throws(LogError) {
        while systemCalls.ftruncate(descriptor, off_t(length)) != 0 {
            if errno != EINTR { throw .io(operation: "ftruncate", path: path, errno: errno) }
        }
    }

    func rename(_ source: String, to destination: String) throws(LogError) {
        guard systemCalls.rename(source, destination) == 0 else {
            throw .io(operation: "rename to \(destination)", path: source, errno: errno)
        }
    }

    func unlink(_ path: String) throws(LogError) {
        guard systemCalls.unlink(path) == 0 else { throw .io(operation: "unlink", path: path, errno: errno) }
    }

    /// Deletes a large file by cutting it `step` bytes at a time from the end (with a 2 ms pause
    /// between cuts), then unlinking it. Freeing a 512 MiB file's blocks in one unlink took 88-107
    /// ms on this machine and a log fdatasync meanwhile up to 30-35 ms; in 8 MiB cuts the longest
    /// fdatasync was 2-9 ms (scripts/probe-unlink-stall.py, with other work running). A file that
    /// cannot be opened for writing is unlinked directly.
    func unlinkGradually(_ path: String, step: Int64) throws(LogError) {
        let descriptor = systemCalls.open(path, O_WRONLY, 0)
        if descriptor >= 0 {
            defer { closeFile(descriptor) }
            var size = try fileByteCount(descriptor, path: path)
            while size > step {
                size -= step
                try truncate(descriptor, to: size, path: path)
                usleep(2_000)
            }
        }
        try unlink(path)
    }

    /// Makes the directory's entries (created, renamed or removed files) durable.
    func synchronizeDirectory(_ path: String) throws(LogError) {
        let descriptor = try openFile(path, flags: O_RDONLY | O_DIRECTORY)
        defer { closeFile(descriptor) }
        try synchronize(descriptor, path: path)
    }

    /// Creates `path` holding exactly `bytes` and syncs it; fails if `path` exists.
    func createFile(_ path: String, contents bytes: UnsafeRawBufferPointer) throws(LogError) {
        let descriptor = try openFile(path, flags: O_WRONLY | O_CREAT | O_EXCL)
        defer { closeFile(descriptor) }
        try writeAll(descriptor, bytes, at: 0, path: path)
        try synchronize(descriptor, path: path)
    }

    /// Creates `directory` (mode 0700) if it does not exist, making the new entry durable in
    /// its parent. An existing directory keeps its mode.
    func makeDirectoryIfMissing(_ directory: String) throws(LogError) {
        if mkdir(directory, 0o700) == 0 {
            try synchronizeDirectory(parentDirectory(of: directory))
        } else if errno != EEXIST {
            throw .io(operation: "mkdir", path: directory, errno: errno)
        }
    }

    func fileByteCount(_ descriptor: Int32, path: String) throws(LogError) -> Int64 {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .io(operation: "fstat", path: path, errno: errno) }
        return Int64(status.st_size)
    }

    func fileByteCount(atPath path: String) throws(LogError) -> Int64 {
        var status = stat()
        guard stat(path, &status) == 0 else { throw .io(operation: "stat", path: path, errno: errno) }
        return Int64(status.st_size)
    }

    /// The names of the entries in `directory`, excluding "." and "..".
    func listDirectory(_ directory: String) throws(LogError) -> [String] {
        guard let stream = opendir(directory) else { throw .io(operation: "opendir", path: directory, errno: errno) }
        defer { closedir(stream) }
        var names: [String] = []
        errno = 0
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
            errno = 0
        }
        if errno != 0 { throw .io(operation: "readdir", path: directory, errno: errno) }
        return names
    }

    /// The name of `path`'s first free variant: `path` itself, then `path.1`, `path.2`, ...,
    /// so a copy of damaged bytes never overwrites an earlier copy.
    func unusedPath(_ path: String) -> String {
        var candidate = path
        var suffix = 0
        while access(candidate, F_OK) == 0 {
            suffix += 1
            candidate = "\(path).\(suffix)"
        }
        return candidate
    }
}

/// `directory/name`.
func joinPath(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}

/// The directory containing `path` ("." for a bare name).
func parentDirectory(of path: String) -> String {
    var trimmed = Substring(path)
    while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
    guard let slash = trimmed.lastIndex(of: "/") else { return "." }
    return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
}

/// The last component of `path`.
func lastPathComponent(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
}

/// CLOCK_MONOTONIC in nanoseconds.
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}
