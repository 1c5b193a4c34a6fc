import Foundation
@testable import MeterLog

/// System calls that behave like the real ones until told to fail, write short, or report
/// `EINTR`, and count the writes they see.
final class FaultInjectingSystemCalls: SystemCalls, @unchecked Sendable {
    enum Operation: Hashable { case open, pwrite, pread, fdatasync, fsync, ftruncate, rename, unlink }

    private let lock = NSLock()
    private let real = PosixSystemCalls()
    private var failures: [Operation: Int32] = [:]
    private var maximumWriteByteCount = Int.max
    private var interruptAlternateCalls = false
    private var interruptNext = false
    private var writeCalls = 0

    /// Makes every later call of `operation` fail with `errorNumber`.
    func fail(_ operation: Operation, with errorNumber: Int32) {
        lock.withLock { failures[operation] = errorNumber }
    }

    func stopFailing() {
        lock.withLock { failures = [:] }
    }

    /// Makes `pwrite` write at most `byteCount` bytes per call and, if `interrupting`, fail
    /// every other write, read and sync with `EINTR` before it does anything.
    func writeShort(atMost byteCount: Int, interrupting: Bool) {
        lock.withLock {
            maximumWriteByteCount = byteCount
            interruptAlternateCalls = interrupting
        }
    }

    /// How many `pwrite` calls reached this object.
    var writeCallCount: Int { lock.withLock { writeCalls } }

    /// Whether `operation` should fail now, setting `errno` if so.
    private func injected(_ operation: Operation) -> Bool {
        lock.withLock {
            if let errorNumber = failures[operation] {
                errno = errorNumber
                return true
            }
            if interruptAlternateCalls, [.pwrite, .pread, .fdatasync, .fsync].contains(operation) {
                interruptNext.toggle()
                if interruptNext {
                    errno = EINTR
                    return true
                }
            }
            return false
        }
    }

    func open(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
        injected(.open) ? -1 : real.open(path, flags, mode)
    }

    func close(_ descriptor: Int32) -> Int32 { real.close(descriptor) }

    func pwrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int, _ offset: off_t) -> Int {
        lock.withLock { writeCalls += 1 }
        if injected(.pwrite) { return -1 }
        return real.pwrite(descriptor, buffer, min(count, lock.withLock { maximumWriteByteCount }), offset)
    }

    func pread(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, _ offset: off_t) -> Int {
        injected(.pread) ? -1 : real.pread(descriptor, buffer, count, offset)
    }

    func fdatasync(_ descriptor: Int32) -> Int32 { injected(.fdatasync) ? -1 : real.fdatasync(descriptor) }
    func fsync(_ descriptor: Int32) -> Int32 { injected(.fsync) ? -1 : real.fsync(descriptor) }

    func ftruncate(_ descriptor: Int32, _ length: off_t) -> Int32 {
        injected(.ftruncate) ? -1 : real.ftruncate(descriptor, length)
    }

    func rename(_ source: String, _ destination: String) -> Int32 {
        injected(.rename) ? -1 : real.rename(source, destination)
    }

    func unlink(_ path: String) -> Int32 { injected(.unlink) ? -1 : real.unlink(path) }

    /// The writeback requests seen, in order (`offset`, `count`, whether it waited).
    var writeBackCalls: [(offset: Int64, count: Int64, wait: Bool)] { lock.withLock { writeBacks } }
    private var writeBacks: [(offset: Int64, count: Int64, wait: Bool)] = []

    func writeBack(_ descriptor: Int32, offset: off_t, count: off_t, wait: Bool) -> Int32 {
        lock.withLock { writeBacks.append((Int64(offset), Int64(count), wait)) }
        return real.writeBack(descriptor, offset: offset, count: count, wait: wait)
    }
}
