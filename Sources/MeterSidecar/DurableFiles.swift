#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import MeterCore

/// Small POSIX helpers for the sidecar's own files (the checkpoint and the dead-letter file).
enum DurableFiles {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ operation: String, _ path: String, _ code: Int32 = errno) {
            description = "\(operation) \(path): \(String(cString: strerror(code)))"
        }
    }

    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw Failure("write", path)
            }
            offset += written
        }
    }

    static func syncDirectory(_ directory: String) throws {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else { throw Failure("open", directory) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw Failure("fsync", directory) }
    }

    /// Replaces `path` with `bytes` atomically: temp file, fsync, rename, fsync the directory.
    static func replaceAtomically(_ path: String, with bytes: [UInt8]) throws {
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw Failure("open", temporary) }
        do {
            try writeAll(descriptor, bytes, path: temporary)
            guard fsync(descriptor) == 0 else { throw Failure("fsync", temporary) }
        } catch {
            close(descriptor)
            throw error
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else { throw Failure("rename", temporary) }
        try syncDirectory((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent)
    }
}

/// The forwarded position: every spool record with a sequence at or below it was acknowledged
/// by meterd (or written to the dead-letter file). Stored as decimal text in one small file,
/// replaced atomically, so a restart resumes from there.
public struct Checkpoint: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// The stored position, or 0 when there is no checkpoint yet.
    public func read() throws -> UInt64 {
        guard FileManager.default.fileExists(atPath: path) else { return 0 }
        let text = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let value = UInt64(text) else {
            throw DurableFiles.Failure("parse", path + " (\"\(text.prefix(40))\" is not a sequence number)", 0)
        }
        return value
    }

    public func write(_ sequence: UInt64) throws {
        try DurableFiles.replaceAtomically(path, with: Array("\(sequence)\n".utf8))
    }
}

/// Events meterd rejected, one JSON object per line:
/// `{"sequence":N,"dead_lettered_at_ms":T,"reason":"TIMESTAMP_TOO_OLD","message":"...","event":{...}}`.
/// Appended and fsynced before the forwarded position may pass the event.
final class DeadLetterFile: @unchecked Sendable {
    let path: String
    private let lock = NSLock()

    init(path: String) {
        self.path = path
    }

    struct Entry {
        var sequence: UInt64
        var reason: String
        var message: String
        var eventJSON: String
    }


    func append(_ entries: [Entry]) throws {
        guard !entries.isEmpty else { return }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var text = ""
        for entry in entries {
            text += "{\"sequence\":\(entry.sequence),\"dead_lettered_at_ms\":\(now),\"reason\":\(JSONStringLiteral.quoted(entry.reason)),\"message\":\(JSONStringLiteral.quoted(entry.message)),\"event\":\(entry.eventJSON)}\n"
        }
        lock.lock()
        defer { lock.unlock() }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard descriptor >= 0 else { throw DurableFiles.Failure("open", path) }
        defer { close(descriptor) }
        try DurableFiles.writeAll(descriptor, Array(text.utf8), path: path)
        guard fsync(descriptor) == 0 else { throw DurableFiles.Failure("fsync", path) }
    }
}
