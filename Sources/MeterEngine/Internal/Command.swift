import MeterCore

/// One request waiting for the writer. Replies run on the writer thread and must not block.
enum Command {
    /// Completes a write once its records are durable (or failed): gets every apply outcome
    /// of the group commit, or the error that stopped the group.
    typealias Finisher = (Result<[ApplyOutcome], EngineError>) -> Void

    /// `encoded` holds the events as the log record will (encoded by the caller, off the writer).
    /// `effects`: set when the request asked for each event's entitlement effect (filled before `reply`).
    case ingest(tenantId: String, events: [UsageEvent], encoded: EncodedEvents, effects: EntitlementEffects?, reply: (Result<[EventResult], EngineError>) -> Void)
    /// Meter changes carry who asks (nil: unattributed, as in tests and tools); an attributed
    /// change is written as an `audited` record.
    case createMeter(MeterDefinition, actor: AuditActor?, reply: (Result<Meter, EngineError>) -> Void)
    case updateDisplayName(tenantId: String, meter: MeterReference, displayName: String, actor: AuditActor?, reply: (Result<Meter, EngineError>) -> Void)
    case archiveMeter(tenantId: String, meter: MeterReference, actor: AuditActor?, reply: (Result<Meter, EngineError>) -> Void)
    case createApiKey(ApiKeyDefinition, actor: AuditActor, reply: (Result<ApiKey, EngineError>) -> Void)
    case revokeApiKey(tenantId: String, keyId: String, actor: AuditActor, reply: (Result<ApiKey, EngineError>) -> Void)
    /// An entitlement, grant or threshold-rule change: `make` validates against the current
    /// state and returns the record to write (it runs on the writer, with the group's time).
    case changeEntitlements(make: (MeterStateMachine, Int64) throws -> StateRecord, reply: (Result<EntitlementChange, EngineError>) -> Void)
    /// Runs against the state after every earlier write of its group was applied.
    case read((MeterStateMachine) -> Void)
    /// Runs as soon as the writer takes it, against the applied (so durable) state, without
    /// waiting for the writes taken with it or the group being synced: it sees every write
    /// acknowledged before it was submitted (see `MeterEngine.readApplied`).
    case readApplied((MeterStateMachine) -> Void)

    var eventCount: Int {
        if case .ingest(_, let events, _, _, _) = self { return events.count }
        return 0
    }

    /// Creates, renames or archives a meter, or creates or revokes a key (screening of later
    /// commands depends on it).
    var changesMeters: Bool {
        switch self {
        case .createMeter, .updateDisplayName, .archiveMeter, .createApiKey, .revokeApiKey, .changeEntitlements: return true
        case .ingest, .read, .readApplied: return false
        }
    }

    /// Answers the command with `error` without running it.
    func fail(_ error: EngineError) {
        switch self {
        case .ingest(_, _, _, _, let reply): reply(.failure(error))
        case .createMeter(_, _, let reply): reply(.failure(error))
        case .updateDisplayName(_, _, _, _, let reply): reply(.failure(error))
        case .archiveMeter(_, _, _, let reply): reply(.failure(error))
        case .createApiKey(_, _, let reply): reply(.failure(error))
        case .revokeApiKey(_, _, _, let reply): reply(.failure(error))
        case .changeEntitlements(_, let reply): reply(.failure(error))
        case .read, .readApplied: break
        }
    }
}
