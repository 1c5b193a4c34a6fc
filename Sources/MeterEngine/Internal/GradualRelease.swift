#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Gives a large buffer's memory back to the kernel a few megabytes at a time, before the
/// buffer itself is freed.
///
/// Freeing a buffer of hundreds of megabytes at once (glibc `free` of a large block is one
/// `munmap`) holds the process's memory-map lock for writing while every page is released:
/// about 100 ms for 500 MB on this machine. Any other thread that page-faults or maps memory
/// meanwhile (the writer and the event loops do, all the time) waits for it
/// (`scripts/probe-munmap-stall.c`: a thread touching fresh pages saw a 109 ms gap; with the
/// same memory released in 8 MiB `madvise(MADV_DONTNEED)` steps first, 19 ms). `MADV_DONTNEED`
/// takes the lock only for reading, so the other threads go on between and during the steps.
enum GradualRelease {
    /// Releases the pages of `bytes` (only whole pages inside its elements) in `step`-byte
    /// pieces. The contents are lost (they read as zeros): call it just before dropping the array.
    static func releasePages(of bytes: inout [UInt8], step: Int = 8 << 20) {
        #if os(Linux)
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard bytes.count >= 4 * step, pageSize > 0 else { return }
        bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            let start = (Int(bitPattern: base) + pageSize - 1) / pageSize * pageSize
            let end = (Int(bitPattern: base) + buffer.count) / pageSize * pageSize
            var offset = start
            while offset < end {
                let length = min(step, end - offset)
                _ = madvise(UnsafeMutableRawPointer(bitPattern: offset), length, MADV_DONTNEED)
                offset += length
            }
        }
        #endif
    }
}
