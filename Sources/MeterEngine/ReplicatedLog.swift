import MeterCore
import MeterLog

/// A log shared by several meterd nodes (cluster mode, docs/cluster.md), to which the engine
/// hands its writes instead of running them itself.
///
/// With `EngineOptions.replicatedLog` set, every write (ingest, meter, key and entitlement changes) is
/// encoded as the log record a single node would store and given to `submit`. The replicated
/// log makes it durable (for JetStream: the publish acknowledgement of an R3 stream), every
/// node applies the log in order through `MeterEngine.applyReplicated`, and `submit`'s
/// completion runs with the outcome of applying that record on this node. Reads stay local.
public protocol ReplicatedLog: Sendable {
    /// Appends `record`; `completion` runs once with what applying it at its log position
    /// gave, or with the error that kept it from being appended (then it may still have been
    /// appended: a retry with the same event ids is answered as duplicates). `partitionKey`
    /// names the tenant and customer of an event batch (the batch's first event: callers in
    /// partitioned mode split batches by partition first); nil for meters, keys, entitlements,
    /// grants and threshold rules (the meta subject, applied by every engine).
    func submit(_ record: LogRecord, partitionKey: PartitionKey?, completion: @escaping @Sendable (Result<ReplicatedReply, EngineError>) -> Void)
    /// `submit` of an event batch whose entitlement effects the caller asked for: `effects`
    /// is filled (one per event of the record) when this node applies the record, before
    /// `completion` runs with its results.
    func submit(_ record: LogRecord, partitionKey: PartitionKey?, effects: EntitlementEffects?,
                completion: @escaping @Sendable (Result<ReplicatedReply, EngineError>) -> Void)
}

extension ReplicatedLog {
    /// Logs that cannot carry effects leave them empty.
    public func submit(_ record: LogRecord, partitionKey: PartitionKey?, effects: EntitlementEffects?,
                       completion: @escaping @Sendable (Result<ReplicatedReply, EngineError>) -> Void) {
        submit(record, partitionKey: partitionKey, completion: completion)
    }
}

/// What decides an event batch's partition in cluster mode: its tenant and customer.
public struct PartitionKey: Sendable, Hashable {
    public var tenantId: String
    public var customerId: String

    public init(tenantId: String, customerId: String) {
        self.tenantId = tenantId
        self.customerId = customerId
    }
}

/// What applying one replicated record gave: the answer of the write that made the record.
public enum ReplicatedReply: Sendable {
    case events([EventResult])
    case meter(Meter)
    case apiKey(ApiKey)
    case entitlement(EntitlementChange)
}
