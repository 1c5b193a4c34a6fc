import MeterCore
import MeterEngine
import MeterProto
import MeterWire
import MeterWireServer

/// Liveness/readiness and server facts (version, uptime, durability, log position).
struct HealthService {
    let engine: MeterEngine
    let version: String
    let startedAt: ContinuousClock.Instant

    func register(with router: inout Router) {
        let engine = engine
        let version = version
        let startedAt = startedAt
        router.register(.healthCheck, unary(Meterd_V1_HealthCheckRequest.self) { _, _ throws(RPCFailure) in
            let status = await engine.status()
            var response = Meterd_V1_HealthCheckResponse()
            if let failure = status.failure {
                response.status = .notServing
                response.message = "writes refused: \(failure)"
            } else {
                response.status = .serving
                response.message = "serving" + Self.dedupIndexNote(status.dedupIndex)
            }
            return response
        })
        router.register(.serverInfo, unary(Meterd_V1_ServerInfoRequest.self) { _, _ throws(RPCFailure) in
            let status = await engine.status()
            let uptime = ContinuousClock.now - startedAt
            var response = Meterd_V1_ServerInfoResponse()
            response.version = version
            response.uptimeMs = uptime.components.seconds * 1000 + uptime.components.attoseconds / 1_000_000_000_000_000
            response.durability = status.durability.description
            response.lastAppliedSequence = status.lastAppliedSequence
            response.firstRetainedSequence = status.firstRetainedSequence
            response.failure = status.failure ?? ""
            response.groupCommits = status.groupCommits
            response.syncs = status.syncs
            return response
        })
    }

    /// Said in Health's message once the exactly-once index is 80% full (the fill is always in
    /// `EngineStatus` and the `meterd_dedup_index_*` gauges).
    static func dedupIndexNote(_ fill: DedupIndexFill) -> String {
        guard fill.maximumEntries > 0, fill.entries * 5 >= fill.maximumEntries * 4 else { return "" }
        let what = fill.entries >= fill.maximumEntries ? "full: ingest requests with new events get RESOURCE_EXHAUSTED until ids expire"
                                                       : "\(fill.entries * 100 / fill.maximumEntries)% full"
        return "; the exactly-once index is \(what) (\(fill.entries) of \(fill.maximumEntries) event ids, \(fill.bytes / 1_048_576) MiB; --dedup-max-ids)"
    }
}
