import MeterCore
import MeterEngine
import MeterProto
import MeterWire
import MeterWireServer

/// Told each ingest request's events (or why one did not decode) and their results, in order,
/// on the connection's event loop after the engine answered (meterd's HTTP event debugger).
public typealias IngestObserver = @Sendable (_ tenantId: String, _ events: [Result<UsageEvent, MeterError>], _ results: [EventResult]) -> Void

/// Ingest (one event) and IngestBatch (many, one result per event, in order).
struct IngestService {
    let engine: MeterEngine
    let maximumBatchEvents: Int
    /// Counts each event's result (accepted, duplicate, rejected by reason) per tenant.
    let metrics: ServerMetrics
    /// Per-tenant events-per-second quotas, checked before the engine.
    let quotas: TenantQuotas
    /// Sees every request's events and results when set.
    var observer: IngestObserver?
    /// Partitioned cluster mode: each event goes to its partition's engine here or is forwarded
    /// to the partition's owner (docs/cluster.md).
    var cluster: ClusterAccess?

    func register(with router: inout Router) {
        let engine = engine
        let maximum = maximumBatchEvents
        let metrics = metrics
        let quotas = quotas
        let observer = observer
        let cluster = cluster
        // Both methods answer through the engine's completion (writer thread -> event loop), not
        // a task: a durable single-event ingest is dominated by thread wake-ups, not by work.
        router.register(.ingest, completion: { payload, context, done in
            let request: Meterd_V1_IngestRequest
            do throws(RPCFailure) {
                request = try decodeRequest(Meterd_V1_IngestRequest.self, from: payload)
            } catch {
                done(error.reply)
                return
            }
            if let refusal = quotas.admitEvents(1, tenantId: context.tenantId) {
                done(refusal.reply)
                return
            }
            if let cluster {
                Self.ingestPartitioned([ProtoConversions.event(request.event)], cluster: cluster, context: context,
                                       completion: Self.answering(done) { outcome in
                    metrics.record(outcome.local, tenantId: context.tenantId)
                    var response = Meterd_V1_IngestResponse()
                    response.result = outcome.results[0]
                    return RPCReply(encoding: response)
                })
                return
            }
            Self.ingest([ProtoConversions.event(request.event)], engine: engine, context: context, observer: observer,
                        completion: Self.answering(done) { results in
                metrics.record(results, tenantId: context.tenantId)
                var response = Meterd_V1_IngestResponse()
                response.result = ProtoConversions.proto(results[0])
                return RPCReply(encoding: response)
            })
        })
        // The hot path: decoded straight from the frame bytes (IngestBatchDecoder), not via swift-protobuf.
        router.register(.ingestBatch, completion: { payload, context, done in
            let decoded: [Result<UsageEvent, MeterError>]
            let includeEffects: Bool
            do {
                (decoded, includeEffects) = try IngestBatchDecoder.decodeRequest(payload)
            } catch {
                done(RPCFailure(.invalidArgument, "the request does not decode as meterd.v1.IngestBatchRequest").reply)
                return
            }
            guard decoded.count <= maximum else {
                done(RPCFailure(.invalidArgument, "a batch holds at most \(maximum) events, got \(decoded.count); split it", reason: RejectionCode.batchTooLarge.name).reply)
                return
            }
            if let refusal = quotas.admitEvents(decoded.count, tenantId: context.tenantId) {
                done(refusal.reply)
                return
            }
            if let cluster {
                Self.ingestPartitioned(decoded, cluster: cluster, context: context, includeEffects: includeEffects,
                                       completion: Self.answering(done) { outcome in
                    metrics.record(outcome.local, tenantId: context.tenantId)
                    var response = Meterd_V1_IngestBatchResponse()
                    response.results = outcome.results
                    for result in outcome.results {
                        switch result.status {
                        case .accepted: response.accepted += 1
                        case .duplicate: response.duplicates += 1
                        default: response.rejected += 1
                        }
                    }
                    return RPCReply(encoding: response)
                })
                return
            }
            let effects = includeEffects ? EntitlementEffects() : nil
            Self.ingest(decoded, engine: engine, context: context, observer: observer, entitlementEffects: effects,
                        completion: Self.answering(done) { results in
                metrics.record(results, tenantId: context.tenantId)
                let perEvent = effects.map { Self.merge(decoded, engineEffects: $0.effects) } ?? []
                return RPCReply(status: .ok, payload: IngestBatchResponseEncoder.encode(results, effects: perEvent))
            })
        })
    }

    /// A completion that answers `done` with `reply` of the value, or with the failure's reply.
    static func answering<Value>(_ done: @escaping @Sendable (RPCReply) -> Void,
                                 _ reply: @escaping @Sendable (Value) -> RPCReply) -> @Sendable (Result<Value, RPCFailure>) -> Void {
        { outcome in
            switch outcome {
            case .success(let value): done(reply(value))
            case .failure(let failure): done(failure.reply)
            }
        }
    }

    /// Sends the decoded events to the engine (one that did not decode is rejected alone) and
    /// merges the results back into request order. The engine answers on its writer thread;
    /// the merge and `completion` (which encodes the reply) run on the connection's event loop,
    /// so the writer only decides each event's result and moves on.
    static func ingest(_ decoded: [Result<UsageEvent, MeterError>], engine: MeterEngine, context: RequestContext, observer: IngestObserver? = nil,
                       entitlementEffects: EntitlementEffects? = nil,
                       completion: @escaping @Sendable (Result<[EventResult], RPCFailure>) -> Void) {
        let completion: @Sendable (Result<[EventResult], RPCFailure>) -> Void = { outcome in
            if let observer, case .success(let results) = outcome { observer(context.tenantId, decoded, results) }
            completion(outcome)
        }
        var events: [UsageEvent] = []
        events.reserveCapacity(decoded.count)
        for item in decoded {
            if case .success(let event) = item { events.append(event) }
        }
        guard !events.isEmpty else {
            completion(.success(merge(decoded, engineResults: [])))
            return
        }
        engine.ingest(tenantId: context.tenantId, events: events, entitlementEffects: entitlementEffects) { result in
            context.onEventLoop {
                switch result {
                case .success(let engineResults): completion(.success(merge(decoded, engineResults: engineResults)))
                case .failure(let error): completion(.failure(RPCFailure(error)))
                }
            }
        }
    }

    /// Puts the engine's effects (one per event sent, in order) back between the rejected events
    /// (which have none). Empty when the engine answered none (nothing was sent).
    static func merge(_ decoded: [Result<UsageEvent, MeterError>], engineEffects: [EntitlementEffect?]) -> [EntitlementEffect?] {
        if engineEffects.count == decoded.count || engineEffects.isEmpty { return engineEffects }
        var next = engineEffects.makeIterator()
        return decoded.map { item in
            if case .success = item { return next.next() ?? nil }
            return nil
        }
    }

    /// `PartitionedIngest` for a request of this connection; `completion` runs on its event loop.
    static func ingestPartitioned(_ decoded: [Result<UsageEvent, MeterError>], cluster: ClusterAccess, context: RequestContext,
                                  includeEffects: Bool = false,
                                  completion: @escaping @Sendable (Result<PartitionedIngest.Outcome, RPCFailure>) -> Void) {
        cluster.ingest(decoded, tenantId: context.tenantId, forwarded: context.principal?.forwarded ?? false, includeEffects: includeEffects) { outcome in
            context.onEventLoop { completion(outcome) }
        }
    }

    /// Puts the engine's results (one per event sent, in order) back between the rejected ones.
    private static func merge(_ decoded: [Result<UsageEvent, MeterError>], engineResults: [EventResult]) -> [EventResult] {
        if engineResults.count == decoded.count { return engineResults }
        var next = engineResults.makeIterator()
        return decoded.map { item in
            switch item {
            case .success: return next.next()!
            case .failure(let error): return .rejected(error)
            }
        }
    }
}
