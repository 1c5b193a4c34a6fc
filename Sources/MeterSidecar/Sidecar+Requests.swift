import Foundation
import MeterProto
import MeterWire
import MeterWireServer

/// The sidecar's methods on the shared wire-server core: Ingest and IngestBatch are spooled
/// and acknowledged, Health answers from the spool and the forwarder, and every other meterd
/// method is answered UNIMPLEMENTED with a pointer to meterd.
extension Sidecar {
    static let servedMethods: [MethodID] = [.ingest, .ingestBatch, .healthCheck, .serverInfo]

    func register(with router: inout Router) {
        router.register(.ingest, unary(Meterd_V1_IngestRequest.self) { [self] request, _ throws(RPCFailure) in
            var single = Meterd_V1_IngestResponse()
            single.result = try await ingest([request.event]).results[0]
            return single
        })
        let maximumBatchEvents = configuration.limits.maximumBatchEvents
        router.register(.ingestBatch, unary(Meterd_V1_IngestBatchRequest.self) { [self] request, _ throws(RPCFailure) in
            guard request.events.count <= maximumBatchEvents else {
                throw RPCFailure(.invalidArgument, "a batch holds at most \(maximumBatchEvents) events, got \(request.events.count); split it", reason: "BATCH_TOO_LARGE")
            }
            return try await ingest(request.events)
        })
        router.register(.healthCheck, unary(Meterd_V1_HealthCheckRequest.self) { [self] _, _ throws(RPCFailure) in
            let status = await status()
            var response = Meterd_V1_HealthCheckResponse()
            response.status = status.spoolFailure == nil ? .serving : .notServing
            response.message = status.summary
            return response
        })
        router.register(.serverInfo, unary(Meterd_V1_ServerInfoRequest.self) { [self] _, _ throws(RPCFailure) in
            let status = await status()
            let uptime = ContinuousClock.now - startedAt
            var response = Meterd_V1_ServerInfoResponse()
            response.version = "meter-sidecar \(Self.version)"
            response.uptimeMs = uptime.components.seconds * 1000 + uptime.components.attoseconds / 1_000_000_000_000_000
            response.durability = "fsync"
            response.lastAppliedSequence = status.lastSpooled
            response.firstRetainedSequence = status.forwardedThrough + 1
            response.failure = status.spoolFailure ?? ""
            response.groupCommits = status.batchesSent
            response.syncs = spool.numbers.syncs
            return response
        })
        for method in MethodID.all where !Self.servedMethods.contains(method) {
            router.register(method) { _, _ in
                RPCFailure(.unimplemented, "meter-sidecar accepts only Ingest, IngestBatch, Health.Check and Health.ServerInfo; send \(method) to meterd directly").reply
            }
        }
    }

    /// Spools `events` (giving those without an id a fresh one) and answers every one ACCEPTED
    /// once the spool has fsynced them.
    private func ingest(_ events: [Meterd_V1_Event]) async throws(RPCFailure) -> Meterd_V1_IngestBatchResponse {
        var events = events
        for index in events.indices where events[index].eventID.isEmpty {
            events[index].eventID = newEventId()
        }
        let acceptedAt = Int64(Date().timeIntervalSince1970 * 1000)
        do throws(SpoolError) {
            _ = try await spool.append(events: events, acceptedAtMilliseconds: acceptedAt)
        } catch {
            switch error {
            case .full(let message): throw RPCFailure(.resourceExhausted, message)
            case .tooLarge(let message): throw RPCFailure(.invalidArgument, message)
            case .failed(let message): throw RPCFailure(.unavailable, message)
            case .stopped: throw RPCFailure(.unavailable, error.description)
            }
        }
        var response = Meterd_V1_IngestBatchResponse()
        var accepted = Meterd_V1_EventResult()
        accepted.status = .accepted
        response.results = Array(repeating: accepted, count: events.count)
        response.accepted = UInt32(events.count)
        return response
    }
}
