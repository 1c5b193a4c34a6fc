import Foundation
import MeterCore
import MeterEngine
import MeterWireServer

/// The first admin key of a new data directory: without it a fresh meterd could only be
/// administered through its Unix socket. Written, before its record is logged, to
/// `bootstrap-admin.key` in the data directory with mode 0600 (a crash in between leaves a
/// file whose key does not exist; the next start, still with an empty log, replaces it).
public enum BootstrapKey {
    public static let fileName = "bootstrap-admin.key"

    /// Creates the key when the engine's log is empty (a new data directory) and no key exists;
    /// returns the file's path then, nil otherwise.
    public static func createIfNew(engine: MeterEngine, dataDirectory: String) async throws -> String? {
        let isNew = try await engine.read { machine in machine.lastAppliedSequence == 0 && machine.apiKeys.isEmpty }
        guard isNew else { return nil }
        let (definition, secret) = ApiKeySecret.newKey(tenantId: Tenant.defaultId, name: "bootstrap admin", role: .admin)
        let path = (dataDirectory as NSString).appendingPathComponent(fileName)
        try write(secret + "\n", to: path)
        _ = try await engine.createApiKey(definition, actor: .bootstrap)
        return path
    }

    /// Writes `text` to a temporary file created with mode 0600, fsyncs it and renames it over `path`.
    private static func write(_ text: String, to path: String) throws {
        let temporary = path + ".partial"
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw ServerError("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == bytes.count, synced == 0 else {
            unlink(temporary)
            throw ServerError("cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else { throw ServerError("cannot rename \(temporary) to \(path): \(String(cString: strerror(errno)))") }
    }
}
