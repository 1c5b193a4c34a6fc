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
                response.message = "serving"
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
}
