import Foundation
import MeterCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The data directory's dedup key: the secret that keys the exactly-once index's fingerprints
/// (see `DedupKey`), in the file `dedup-key` (32 hex digits and a newline, mode 0600).
///
/// Why a file of its own rather than a field of the log or the snapshot: the key must exist
/// before the first snapshot is read (it checks the snapshot's key), it must survive every
/// snapshot and retention, and it must never leave the machine in a snapshot copied for
/// debugging. Created with a fresh random key the first time a data directory is opened by a
/// meterd that has this index (new directories, and directories written before it, whose
/// snapshot and log hold full ids and are fingerprinted on load). Written to a temporary file,
/// fsynced and linked to its name, then the directory fsynced, so a crash leaves either no key
/// or the whole key. Losing the file later makes recovery refuse the snapshot (its key check no
/// longer matches) rather than count retried events twice.
enum DedupKeyFile {
    static let name = "dedup-key"

    /// Reads the directory's key, creating it first if there is none.
    static func loadOrCreate(directory: String) throws -> DedupKey {
        let path = directory + "/" + name
        if !FileManager.default.fileExists(atPath: path) {
            try create(DedupKey.random(), at: path, directory: directory)
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw EngineOpenError("cannot read the dedup key \(path): \(error.localizedDescription)")
        }
        guard let key = DedupKey(hexadecimal: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw EngineOpenError("the dedup key \(path) is not 32 lowercase hex digits; restore it from a backup of this data directory")
        }
        return key
    }

    /// Writes `key` to a temporary file, fsyncs it and links it to `path`. link(2) never
    /// replaces an existing file, so if two processes race to create the key (the log's lock is
    /// taken later), both end up reading the one that won.
    private static func create(_ key: DedupKey, at path: String, directory: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw EngineOpenError("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        defer { unlink(temporary) }
        let bytes = Array((key.hexadecimal + "\n").utf8)
        let written = bytes.withUnsafeBytes { buffer in systemWrite(descriptor, buffer.baseAddress, buffer.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == bytes.count, synced == 0 else { throw EngineOpenError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        guard link(temporary, path) == 0 || errno == EEXIST else {
            throw EngineOpenError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    private static func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.write(descriptor, bytes, count)
        #else
        return Darwin.write(descriptor, bytes, count)
        #endif
    }
}
