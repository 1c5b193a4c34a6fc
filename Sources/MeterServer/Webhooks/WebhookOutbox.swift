#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The durable part of webhook delivery. The notifications themselves are in the log and the
/// state (numbered, replayed identically), so the outbox only records progress: every number up
/// to `deliveredThrough` was delivered (2xx) or dead-lettered, and the dead letters with their
/// attempts and last error. Rewritten (temporary file, rename) after each notification is
/// settled, so a killed process redelivers at most the one in flight; made durable (fsync of
/// the file and the directory) at the end of each page of notifications, on every dead letter,
/// at least once a second and at shutdown, so a power loss redelivers at most that much, under
/// the same delivery ids. Syncing every save capped delivery near 150 notifications/s.
///
/// Format: text lines, `delivered-through N` then one `dead N ATTEMPTS ERROR` line per dead
/// letter (the error with newlines replaced).
struct WebhookOutbox: Sendable, Equatable {
    struct DeadLetter: Sendable, Equatable {
        var number: UInt64
        var attempts: Int
        var lastError: String
    }

    var deliveredThrough: UInt64 = 0
    var deadLetters: [DeadLetter] = []

    /// Most dead letters kept (the oldest are dropped beyond it; the count is in the metrics).
    static let deadLettersMaximumCount = 10_000

    static func load(_ path: String) throws -> WebhookOutbox {
        guard FileManager.default.fileExists(atPath: path) else { return WebhookOutbox() }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var outbox = WebhookOutbox()
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            if parts.count == 2, parts[0] == "delivered-through", let number = UInt64(parts[1]) {
                outbox.deliveredThrough = number
            } else if parts.count == 4, parts[0] == "dead", let number = UInt64(parts[1]), let attempts = Int(parts[2]) {
                outbox.deadLetters.append(DeadLetter(number: number, attempts: attempts, lastError: String(parts[3])))
            } else {
                throw OutboxError("\(path): unreadable line \"\(line.prefix(80))\"; remove the file to redeliver every notification")
            }
        }
        return outbox
    }

    /// Replaces the file at `path` by this outbox; with `durable`, also syncs it and its
    /// directory before and after the rename.
    func save(_ path: String, durable: Bool) throws {
        var text = "delivered-through \(deliveredThrough)\n"
        for letter in deadLetters {
            text += "dead \(letter.number) \(letter.attempts) \(letter.lastError.replacingOccurrences(of: "\n", with: " "))\n"
        }
        let bytes = Array(text.utf8)
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw OutboxError("open \(temporary): \(String(cString: strerror(errno)))") }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                close(descriptor)
                throw OutboxError("write \(temporary): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        guard !durable || fsync(descriptor) == 0 else {
            close(descriptor)
            throw OutboxError("fsync \(temporary): \(String(cString: strerror(errno)))")
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else { throw OutboxError("rename \(temporary): \(String(cString: strerror(errno)))") }
        guard durable else { return }
        let directory = (path as NSString).deletingLastPathComponent
        let directoryDescriptor = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }
}

struct OutboxError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
