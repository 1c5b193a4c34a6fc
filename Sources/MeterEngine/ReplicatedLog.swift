import MeterCore
import MeterLog

/// A log shared by several meterd nodes (cluster mode, docs/cluster.md), to which the engine
/// hands its writes instead of running them itself.
///
/// With `EngineOptions.replicatedLog` set, every write (ingest, meter and key changes) is
/// encoded as the log record a single node would store and given to `submit`. The replicated
/// log makes it durable (for JetStream: the publish acknowledgement of an R3 stream), every
/// node applies the log in order through `MeterEngine.applyReplicated`, and `submit`'s
/// completion runs with the outcome of applying that record on this node. Reads stay local.
public protocol ReplicatedLog: Sendable {
    /// Appends `record`; `completion` runs once with what applying it at its log position
    /// gave, or with the error that kept it from being appended (then it may still have been
    /// appended: a retry with the same event ids is answered as duplicates). `partitionKey`
    /// is the tenant of an event batch (nil for meters and keys).
    func submit(_ record: LogRecord, partitionKey: String?, completion: @escaping @Sendable (Result<ReplicatedReply, EngineError>) -> Void)
}

/// What applying one replicated record gave: the answer of the write that made the record.
public enum ReplicatedReply: Sendable {
    case events([EventResult])
    case meter(Meter)
    case apiKey(ApiKey)
}
