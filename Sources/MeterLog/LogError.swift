#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An operating error from the log or the snapshot store.
///
/// These are conditions a correct program still meets (a full disk, a damaged file, a second
/// process holding the directory) and so are values, never crashes. Misuse, such as
/// appending to a closed log or a reserved record type, is a `precondition` failure instead.
public enum LogError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A system call failed; `errno` is its error number.
    case io(operation: String, path: String, errno: Int32)
    /// A record or header failed validation somewhere other than a torn tail.
    case corruption(segment: String, offset: Int64, reason: String)
    /// An earlier write or sync failed, so the log refuses all further appends and syncs:
    /// after a failed fsync the page cache may hold data the disk never got, and only
    /// reopening (which rereads and revalidates the files) gives a state we can trust.
    indirect case failed(underlying: LogError)
    /// Another open log (in this or another process) holds the directory's lock.
    case directoryLocked(path: String)
    /// A segment's header is intact but names a format version this code does not read (a
    /// newer meterd wrote it). Open refuses and changes nothing, rather than misread it.
    case unsupportedVersion(segment: String, version: UInt32)

    public var description: String {
        switch self {
        case let .io(operation, path, errno):
            let message = String(cString: strerror(errno))
            return "\(operation) \(path): \(message) (errno \(errno))"
        case let .corruption(segment, offset, reason):
            return "log corruption in \(segment) at offset \(offset): \(reason)"
        case let .failed(underlying):
            return "log is failed after an earlier error and must be reopened: \(underlying)"
        case let .directoryLocked(path):
            return "log directory \(path) is already open elsewhere"
        case let .unsupportedVersion(segment, version):
            return "log segment \(segment) is in format version \(version), which this meterd cannot read (it reads versions \(LogFormat.oldestReadableVersion) to \(LogFormat.version)); it was written by a newer meterd: run that version, nothing was changed"
        }
    }
}
