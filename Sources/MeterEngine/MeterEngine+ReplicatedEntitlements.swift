import MeterCore
import MeterLog

/// Entitlement, grant and threshold-rule changes in cluster mode (docs/cluster.md,
/// "Entitlements"): written to the replicated log's meta subject, which every engine applies
/// (the node's meta engine and every partition engine), so that each partition engine holds
/// every entitlement, grant and rule in stream order between its customers' events, exactly
/// as a single node does, and numbers grants and rules alike (`grt_N`, `thr_N` come from
/// counters only meta records advance).
extension MeterEngine {
    /// Builds the change's record on this engine's writer (the meter resolved, the change
    /// validated against the state applied here), hands it to the log, and answers with what
    /// applying it on this engine gave, once the log acknowledged it and this engine applied it.
    func replicateChange<Value: Sendable>(_ log: any ReplicatedLog, _ command: EntitlementCommand,
                                          answer: @escaping (EntitlementChange) -> Value) async throws(EngineError) -> Value {
        let answer = ChangeAnswer(answer)
        let result: Result<Value, EngineError> = await withCheckedContinuation { continuation in
            let reply: @Sendable (Result<Value, EngineError>) -> Void = { continuation.resume(returning: $0) }
            submit(.readApplied { machine in
                let record: StateRecord
                do {
                    record = try command.make(machine, EngineOptions.systemClock())
                } catch let error as MeterError {
                    reply(.failure(.rejected(error)))
                    return
                } catch {
                    reply(.failure(.unavailable("internal error: \(error)")))
                    return
                }
                self.replicate(log, record, { replicated in
                    if case .entitlement(let change) = replicated { answer.body(change) } else { nil }
                }, reply: reply)
            })
        }
        return try result.get()
    }

    /// How an engine applying the log screens an entitlement record: validated against its
    /// state as the writer validates a change of its own, and stamped with the engine's clock
    /// (the record's stream time), as a single node stamps it with its writer's.
    static func replicatedEntitlement(_ record: StateRecord) -> (MeterStateMachine, Int64) throws -> StateRecord {
        { machine, now in
            switch record {
            case .entitlementSet(let definition, let actor, _):
                try machine.validateEntitlement(definition)
                return .entitlementSet(definition, actor: actor, atMilliseconds: now)
            case .entitlementRemoved(let tenantId, let meterId, let customerId, let actor, _):
                try machine.validateEntitlementRemoval(tenantId: tenantId, meterId: meterId, customerId: customerId)
                return .entitlementRemoved(tenantId: tenantId, meterId: meterId, customerId: customerId, actor: actor, atMilliseconds: now)
            case .grantAdded(let definition, let actor, _):
                try machine.validateGrant(definition)
                return .grantAdded(definition, actor: actor, atMilliseconds: now)
            case .grantRemoved(let tenantId, let grantId, let actor, _):
                try machine.validateGrantRemoval(tenantId: tenantId, grantId: grantId)
                return .grantRemoved(tenantId: tenantId, grantId: grantId, actor: actor, atMilliseconds: now)
            case .thresholdRuleAdded(let definition, let actor, _):
                try machine.validateThresholdRule(definition)
                return .thresholdRuleAdded(definition, actor: actor, atMilliseconds: now)
            case .thresholdRuleRemoved(let tenantId, let ruleId, let actor, _):
                try machine.validateThresholdRuleRemoval(tenantId: tenantId, ruleId: ruleId)
                return .thresholdRuleRemoved(tenantId: tenantId, ruleId: ruleId, actor: actor, atMilliseconds: now)
            default:
                throw MeterError(.invalidProperty, "not an entitlement record")
            }
        }
    }
}

/// The caller's answer builder, run on the engine's writer thread when the change is applied
/// (never concurrently with the caller: it waits for the reply).
private final class ChangeAnswer<Value>: @unchecked Sendable {
    let body: (EntitlementChange) -> Value
    init(_ body: @escaping (EntitlementChange) -> Value) { self.body = body }
}
