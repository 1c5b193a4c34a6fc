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
            response.result = try await Self.ingest([ProtoConversions.event(request.event)], engine: engine, tenantId: context.tenantId).results[0]
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
            let response: Meterd_V1_IngestBatchResponse
            do throws(RPCFailure) {
                response = try await Self.ingest(decoded, engine: engine, tenantId: context.tenantId)
            } catch {
                return error.reply
            }
            return RPCReply(encoding: response)
        }
    }

    /// Converts every event (a bad one is rejected alone), sends the valid ones to the engine
    /// and merges the results back into request order.
    static func ingest(_ decoded: [Result<UsageEvent, MeterError>], engine: MeterEngine, tenantId: String) async throws(RPCFailure) -> Meterd_V1_IngestBatchResponse {
        var results = [EventResult?](repeating: nil, count: decoded.count)
        var events: [UsageEvent] = []
        var positions: [Int] = []
        events.reserveCapacity(decoded.count)
        positions.reserveCapacity(decoded.count)
        for (position, item) in decoded.enumerated() {
            switch item {
            case .success(let event):
                events.append(event)
                positions.append(position)
            case .failure(let error):
                results[position] = .rejected(error)
            }
        }
        if !events.isEmpty {
            let engineResults: [EventResult]
            do {
                engineResults = try await engine.ingest(tenantId: tenantId, events: events)
            } catch {
                throw RPCFailure(error)
            }
            for (position, result) in zip(positions, engineResults) { results[position] = result }
        }
        var response = Meterd_V1_IngestBatchResponse()
        response.results.reserveCapacity(decoded.count)
        for result in results {
            let message = ProtoConversions.proto(result!)
            switch message.status {
            case .accepted: response.accepted += 1
            case .duplicate: response.duplicates += 1
            default: response.rejected += 1
            }
            response.results.append(message)
        }
        return response
    }
}
