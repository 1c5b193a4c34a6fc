import Foundation
import MeterEngine
import MeterProto
import MeterServer
import MeterWireServer

/// meterd's engine and server in this process on a fresh directory (the wire and ingest
/// suites), and the guide's tokens meter they create.
struct InProcessServer {
    let engine: MeterEngine
    let server: MeterServer
    let endpoints: [MeterServer.Endpoint]
    /// The Unix socket path.
    let socketPath: String

    /// Starts with snapshots off; `tcp` adds a TCP listener on a free port.
    static func start(directory: String, durability: Durability = .fsync, tcp: Bool) async throws -> InProcessServer {
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var options = EngineOptions(dataDirectory: directory + "/data")
        options.snapshotEveryRecords = .max
        options.durability = durability
        // METERD_BENCH_NO_VIEW=1: CheckEntitlement always queues for the writer (the path before the check view).
        options.entitlementCheckView = ProcessInfo.processInfo.environment["METERD_BENCH_NO_VIEW"] != "1"
        let engine = try MeterEngine.open(options: options)
        var configuration = ServerConfiguration()
        configuration.unixSocketPath = directory + "/meterd.sock"
        if tcp { configuration.tcpPort = 0 } else { configuration.tcpHost = nil }
        let server = MeterServer(engine: engine, configuration: configuration)
        let endpoints = try await server.start()
        return InProcessServer(engine: engine, server: server, endpoints: endpoints, socketPath: directory + "/meterd.sock")
    }

    func stop() async {
        await server.shutdown()
        await engine.shutdown()
    }

    /// `tokens_used`, summed over `tokens`, cumulative; `models` as a filter when given.
    static func tokensMeter(models: [String] = []) -> Meterd_V1_MeterDefinition {
        var meter = Meterd_V1_MeterDefinition()
        meter.eventName = "tokens_used"
        meter.displayName = "Tokens"
        meter.aggregation = .sum
        meter.field = "tokens"
        meter.reset = .cumulative
        if !models.isEmpty {
            var filter = Meterd_V1_MeterFilter()
            filter.key = "model"
            filter.values = models
            meter.filters = [filter]
        }
        return meter
    }
}
