#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The system calls through which the log and the snapshot store change or read files.
///
/// They keep their POSIX names and conventions (a negative result with `errno` set) so that
/// `FileOperations` owns all retry and error handling, and tests can substitute an
/// implementation that fails, writes short or returns `EINTR` on demand.
protocol SystemCalls: Sendable {
    func open(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32
    func close(_ descriptor: Int32) -> Int32
    func pwrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int, _ offset: off_t) -> Int
    func pread(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, _ offset: off_t) -> Int
    func fdatasync(_ descriptor: Int32) -> Int32
    func fsync(_ descriptor: Int32) -> Int32
    func ftruncate(_ descriptor: Int32, _ length: off_t) -> Int32
    func rename(_ source: String, _ destination: String) -> Int32
    func unlink(_ path: String) -> Int32
    /// Starts writing back `count` bytes at `offset` (Linux `sync_file_range`); with `wait`,
    /// first waits for writeback already under way in that range and then for this one. A hint
    /// for pacing large writes: durability still comes from fsync/fdatasync.
    func writeBack(_ descriptor: Int32, offset: off_t, count: off_t, wait: Bool) -> Int32
}

extension SystemCalls {
    /// Substitutes (the tests' fault injectors) need not pace writes.
    func writeBack(_ descriptor: Int32, offset: off_t, count: off_t, wait: Bool) -> Int32 { 0 }
}

/// The real system calls.
struct PosixSystemCalls: SystemCalls {
    func open(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
        #if canImport(Glibc)
        Glibc.open(path, flags, mode)
        #else
        Darwin.open(path, flags, mode)
        #endif
    }

    func close(_ descriptor: Int32) -> Int32 {
        #if canImport(Glibc)
        Glibc.close(descriptor)
        #else
        Darwin.close(descriptor)
        #endif
    }

    func pwrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int, _ offset: off_t) -> Int {
        #if canImport(Glibc)
        Glibc.pwrite(descriptor, buffer, count, offset)
        #else
        Darwin.pwrite(descriptor, buffer, count, offset)
        #endif
    }

    func pread(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, _ offset: off_t) -> Int {
        #if canImport(Glibc)
        Glibc.pread(descriptor, buffer, count, offset)
        #else
        Darwin.pread(descriptor, buffer, count, offset)
        #endif
    }

    func fdatasync(_ descriptor: Int32) -> Int32 {
        #if canImport(Glibc)
        Glibc.fdatasync(descriptor)
        #else
        Darwin.fsync(descriptor)
        #endif
    }

    func fsync(_ descriptor: Int32) -> Int32 {
        #if canImport(Glibc)
        Glibc.fsync(descriptor)
        #else
        Darwin.fsync(descriptor)
        #endif
    }

    func ftruncate(_ descriptor: Int32, _ length: off_t) -> Int32 {
        #if canImport(Glibc)
        Glibc.ftruncate(descriptor, length)
        #else
        Darwin.ftruncate(descriptor, length)
        #endif
    }

    func rename(_ source: String, _ destination: String) -> Int32 {
        #if canImport(Glibc)
        Glibc.rename(source, destination)
        #else
        Darwin.rename(source, destination)
        #endif
    }

    func unlink(_ path: String) -> Int32 {
        #if canImport(Glibc)
        Glibc.unlink(path)
        #else
        Darwin.unlink(path)
        #endif
    }

    func writeBack(_ descriptor: Int32, offset: off_t, count: off_t, wait: Bool) -> Int32 {
        guard let syncFileRange = Self.syncFileRange else { return 0 }
        // SYNC_FILE_RANGE_WAIT_BEFORE 1, SYNC_FILE_RANGE_WRITE 2, SYNC_FILE_RANGE_WAIT_AFTER 4.
        return syncFileRange(descriptor, Int64(offset), Int64(count), wait ? 7 : 2)
    }

    /// glibc's `sync_file_range`, which Swift's Glibc module does not export (it is declared
    /// only under _GNU_SOURCE); looked up once. Nil elsewhere: pacing is then skipped.
    private static let syncFileRange: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32)? = {
        #if os(Linux)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sync_file_range") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32).self)
        #else
        return nil
        #endif
    }()
}
