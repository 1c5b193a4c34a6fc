import MeterCore
import MeterEngine
import MeterProto
import MeterWire

/// Ingest (one event) and IngestBatch (many, one result per event, in order).
struct IngestService {
    let engine: MeterEngine
    let maximumBatchEvents: Int

    func register(with router: inout Router) {
        let engine = engine
        let maximum = maximumBatchEvents
        router.register(.ingest, unary(Meterd_V1_IngestRequest.self) { request, context throws(RPCFailure) in
            var response = Meterd_V1_IngestResponse()
            let results = try await Self.ingest([ProtoConversions.event(request.event)], engine: engine, tenantId: context.tenantId)
            response.result = ProtoConversions.proto(results[0])
            return response
        })
        // The hot path: decoded straight from the frame bytes (IngestBatchDecoder), not via swift-protobuf.
        router.register(.ingestBatch) { payload, context in
            let decoded: [Result<UsageEvent, MeterError>]
            do {
                decoded = try IngestBatchDecoder.decode(payload)
            } catch {
                return RPCFailure(.invalidArgument, "the request does not decode as meterd.v1.IngestBatchRequest").reply
            }
            guard decoded.count <= maximum else {
                return RPCFailure(.invalidArgument, "a batch holds at most \(maximum) events, got \(decoded.count); split it", reason: RejectionCode.batchTooLarge.name).reply
            }
            do throws(RPCFailure) {
                let results = try await Self.ingest(decoded, engine: engine, tenantId: context.tenantId)
                return RPCReply(status: .ok, payload: IngestBatchResponseEncoder.encode(results))
            } catch {
                return error.reply
            }
        }
    }

    /// Sends the decoded events to the engine (one that did not decode is rejected alone) and
    /// merges the results back into request order.
    static func ingest(_ decoded: [Result<UsageEvent, MeterError>], engine: MeterEngine, tenantId: String) async throws(RPCFailure) -> [EventResult] {
        var events: [UsageEvent] = []
        events.reserveCapacity(decoded.count)
        for item in decoded {
            if case .success(let event) = item { events.append(event) }
        }
        var engineResults: [EventResult] = []
        if !events.isEmpty {
            do {
                engineResults = try await engine.ingest(tenantId: tenantId, events: events)
            } catch {
                throw RPCFailure(error)
            }
        }
        if events.count == decoded.count { return engineResults }
        // Put the engine's results (one per event sent, in order) back between the rejected ones.
        var next = engineResults.makeIterator()
        return decoded.map { item in
            switch item {
            case .success: return next.next()!
            case .failure(let error): return .rejected(error)
            }
        }
    }
}
