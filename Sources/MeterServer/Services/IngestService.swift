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
            response.result = try await Self.ingest([request.event], engine: engine, tenantId: context.tenantId).results[0]
            return response
        })
        router.register(.ingestBatch, unary(Meterd_V1_IngestBatchRequest.self) { request, context throws(RPCFailure) in
            guard request.events.count <= maximum else {
                throw RPCFailure(.invalidArgument, "a batch holds at most \(maximum) events, got \(request.events.count); split it", reason: RejectionCode.batchTooLarge.name)
            }
            return try await Self.ingest(request.events, engine: engine, tenantId: context.tenantId)
        })
    }

    /// Converts every event (a bad one is rejected alone), sends the valid ones to the engine
    /// and merges the results back into request order.
    static func ingest(_ protos: [Meterd_V1_Event], engine: MeterEngine, tenantId: String) async throws(RPCFailure) -> Meterd_V1_IngestBatchResponse {
        var results = [EventResult?](repeating: nil, count: protos.count)
        var events: [UsageEvent] = []
        var positions: [Int] = []
        events.reserveCapacity(protos.count)
        positions.reserveCapacity(protos.count)
        for (position, proto) in protos.enumerated() {
            switch ProtoConversions.event(proto) {
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
        response.results.reserveCapacity(protos.count)
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
