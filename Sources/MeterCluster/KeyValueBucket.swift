// Built with the Cluster trait only (`swift build --traits Cluster`, needs libnats-dev).
#if Cluster
import CNATS
import Foundation

/// One JetStream key-value bucket (the partition owners' leases): reads, and writes that are
/// compare-and-set on a key's revision. Thread-safe as the C client is.
final class KeyValueBucket: @unchecked Sendable {
    private let store: OpaquePointer
    /// The JetStream context the bucket was opened with (its own, with its own wait).
    private let context: OpaquePointer?

    init(_ store: OpaquePointer, context: OpaquePointer? = nil) {
        self.store = store
        self.context = context
    }

    deinit {
        kvStore_Destroy(store)
        if let context { jsCtx_Destroy(context) }
    }

    /// The key's revision and value; nil when the key does not exist (or was deleted).
    func get(_ key: String) -> Result<(revision: UInt64, value: String)?, NATSError> {
        var entry: OpaquePointer?
        let status = kvStore_Get(&entry, store, key)
        if status == NATS_NOT_FOUND { return .success(nil) }
        guard status == NATS_OK, let entry else { return .failure(NATSError("cannot read key \(key)", status)) }
        defer { kvEntry_Destroy(entry) }
        return .success((kvEntry_Revision(entry), String(cString: kvEntry_ValueString(entry))))
    }

    /// Creates `key` (fails if it exists); the new revision.
    func create(_ key: String, _ value: String) -> Result<UInt64, NATSError> {
        var revision: UInt64 = 0
        let status = kvStore_CreateString(&revision, store, key, value)
        return status == NATS_OK ? .success(revision) : .failure(NATSError("cannot create key \(key)", status))
    }

    /// Writes `key` if its revision is still `last`; the new revision.
    func update(_ key: String, _ value: String, last: UInt64) -> Result<UInt64, NATSError> {
        var revision: UInt64 = 0
        let status = kvStore_UpdateString(&revision, store, key, value, last)
        return status == NATS_OK ? .success(revision) : .failure(NATSError("cannot update key \(key) on revision \(last)", status))
    }

    /// Writes `key` whatever it holds; the new revision.
    func put(_ key: String, _ value: String) -> Result<UInt64, NATSError> {
        var revision: UInt64 = 0
        let status = kvStore_PutString(&revision, store, key, value)
        return status == NATS_OK ? .success(revision) : .failure(NATSError("cannot write key \(key)", status))
    }

    /// Every key of the bucket (none when it is empty).
    func keys() -> Result<[String], NATSError> {
        var list = kvKeysList()
        var options = kvWatchOptions()
        kvWatchOptions_Init(&options)
        options.Timeout = 2000
        let status = kvStore_Keys(&list, store, &options)
        if status == NATS_NOT_FOUND { return .success([]) }
        guard status == NATS_OK else { return .failure(NATSError("cannot list the bucket's keys", status)) }
        defer { kvKeysList_Destroy(&list) }
        var keys: [String] = []
        for index in 0..<Int(list.Count) {
            if let key = list.Keys[index] { keys.append(String(cString: key)) }
        }
        return .success(keys)
    }
}

extension JetStreamConnection {
    /// Opens the key-value bucket `bucket`, creating it when missing (history 1, file storage,
    /// `replicas`), retrying until `deadline`. With `waitMilliseconds`, the bucket's calls use a
    /// JetStream context of their own that waits at most that long for an answer (the lease
    /// thread must not stall for the default 5 s on each call while NATS elects a leader).
    func keyValue(bucket: String, replicas: Int, deadline: Date, waitMilliseconds: Int64? = nil) throws(NATSError) -> KeyValueBucket {
        var ownContext: OpaquePointer?
        if let waitMilliseconds {
            var options = jsOptions()
            jsOptions_Init(&options)
            options.Wait = waitMilliseconds
            let status = natsConnection_JetStream(&ownContext, natsConnection, &options)
            guard status == NATS_OK else { throw NATSError("cannot open a JetStream context for bucket \(bucket)", status) }
        }
        let context = ownContext ?? jetStreamContext
        while true {
            var config = kvConfig()
            kvConfig_Init(&config)
            config.History = 1
            config.Replicas = Int32(replicas)
            config.StorageType = js_FileStorage
            var store: OpaquePointer?
            var status = bucket.withCString { name in
                config.Bucket = name
                return js_CreateKeyValue(&store, context, &config)
            }
            if status != NATS_OK { status = js_KeyValue(&store, context, bucket) }
            if status == NATS_OK, let store { return KeyValueBucket(store, context: ownContext) }
            if Date() >= deadline {
                if let ownContext { jsCtx_Destroy(ownContext) }
                throw NATSError("cannot open key-value bucket \(bucket)", status)
            }
            usleep(250_000)
        }
    }
}
#endif
