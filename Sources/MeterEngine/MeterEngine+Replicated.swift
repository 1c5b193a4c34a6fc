import MeterCore
import MeterLog

extension MeterEngine {
    /// Applies one record of the replicated log (cluster mode) as a write of this node would
    /// be: screened against the state (validation, dedup window, exactly-once index) and
    /// applied, with the engine's clock set by the caller to the record's log time so that
    /// every node decides the same. Records that are not writes are refused.
    ///
    /// The caller (the log's consumer) applies records one at a time, in log order, waiting
    /// for each completion before the next; `completion` runs on the writer thread.
    ///
    /// `effects`: the entitlement effects of an event batch written by this node, asked for by
    /// its client; filled while the record is applied (they change nothing in the state).
    public func applyReplicated(_ record: StateRecord, effects: EntitlementEffects? = nil,
                                completion: @escaping @Sendable (Result<ReplicatedReply, EngineError>) -> Void) {
        applyReplicated(record, actor: nil, effects: effects, completion: completion)
    }

    private func applyReplicated(_ record: StateRecord, actor: AuditActor?, effects: EntitlementEffects? = nil,
                                 completion: @escaping @Sendable (Result<ReplicatedReply, EngineError>) -> Void) {
        switch record {
        case .eventsAccepted(let tenantId, _, let events):
            submit(.ingest(tenantId: tenantId, events: events, encoded: EncodedEvents(events), effects: effects, reply: { completion($0.map(ReplicatedReply.events)) }))
        case .meterCreated(let definition, _):
            submit(.createMeter(definition, actor: actor, reply: { completion($0.map(ReplicatedReply.meter)) }))
        case .meterDisplayNameChanged(let tenantId, let meterId, let displayName, _):
            submit(.updateDisplayName(tenantId: tenantId, meter: .id(meterId), displayName: displayName, actor: actor,
                                      reply: { completion($0.map(ReplicatedReply.meter)) }))
        case .meterArchived(let tenantId, let meterId, _):
            submit(.archiveMeter(tenantId: tenantId, meter: .id(meterId), actor: actor, reply: { completion($0.map(ReplicatedReply.meter)) }))
        case .apiKeyCreated(let definition, let createdBy, _):
            let observe = options.onReplicatedKey
            submit(.createApiKey(definition, actor: createdBy, reply: { result in
                if let observe, case .success(let key) = result { observe(key) }
                completion(result.map(ReplicatedReply.apiKey))
            }))
        case .apiKeyRevoked(let tenantId, let keyId, let revokedBy, _):
            let observe = options.onReplicatedKey
            submit(.revokeApiKey(tenantId: tenantId, keyId: keyId, actor: revokedBy, reply: { result in
                if let observe, case .success(let key) = result { observe(key) }
                completion(result.map(ReplicatedReply.apiKey))
            }))
        case .audited(let auditActor, let inner):
            applyReplicated(inner, actor: auditActor, completion: completion)
        case .backfillProgress:
            completion(.failure(.unavailable("a backfill record is not a replicated write")))
        case .entitlementSet, .entitlementRemoved, .grantAdded, .grantRemoved, .thresholdRuleAdded, .thresholdRuleRemoved:
            // Screened again against this engine's state, at the log's time, as a single node's
            // writer screens the change it builds (`EntitlementCommand`).
            submit(.changeEntitlements(make: Self.replicatedEntitlement(record), reply: { completion($0.map(ReplicatedReply.entitlement)) }))
        }
    }

    /// Hands a write to the replicated log (cluster mode) and maps its reply to the caller's type.
    func replicate<Value: Sendable>(_ log: any ReplicatedLog, _ record: StateRecord, effects: EntitlementEffects? = nil,
                                    _ extract: @escaping @Sendable (ReplicatedReply) -> Value?,
                                    reply: @escaping @Sendable (Result<Value, EngineError>) -> Void) {
        let encoded = RecordCodec.encode(record)
        var partitionKey: PartitionKey?
        if case .eventsAccepted(let tenantId, _, let events) = record, let first = events.first {
            partitionKey = PartitionKey(tenantId: tenantId, customerId: first.customerId)
        }
        log.submit(LogRecord(type: encoded.type, payload: encoded.payload), partitionKey: partitionKey, effects: effects) { result in
            switch result {
            case .failure(let error):
                reply(.failure(error))
            case .success(let replicated):
                if let value = extract(replicated) {
                    reply(.success(value))
                } else {
                    reply(.failure(.unavailable("internal error: unexpected reply from the replicated log")))
                }
            }
        }
    }

    static let meterReply: @Sendable (ReplicatedReply) -> Meter? = { if case .meter(let meter) = $0 { meter } else { nil } }
    static let keyReply: @Sendable (ReplicatedReply) -> ApiKey? = { if case .apiKey(let key) = $0 { key } else { nil } }
    static let entitlementReply: @Sendable (ReplicatedReply) -> EntitlementChange? = { if case .entitlement(let change) = $0 { change } else { nil } }

    /// `replicate` for async callers.
    func replicate<Value: Sendable>(_ log: any ReplicatedLog, _ record: StateRecord,
                                    _ extract: @escaping @Sendable (ReplicatedReply) -> Value?) async throws(EngineError) -> Value {
        let result: Result<Value, EngineError> = await withCheckedContinuation { continuation in
            replicate(log, record, extract) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }
}
