import Foundation
import MeterClient
import MeterCore
import MeterEngine
import MeterProto
import MeterServer
import MeterWireServer

/// The server end to end, in one process: round-trip latency on one connection, pipelined
/// requests per second, and durable batched events per second, over the Unix socket and TCP.
enum WireBenchmark {
    static func run(directory: String) async throws {
        let running = try await InProcessServer.start(directory: directory, tcp: true)
        let endpoints = running.endpoints
        print("== wire: meterd in-process, durability \(Durability.fsync), listening on \(endpoints.map(\.description).joined(separator: " and "))")
        let meter = InProcessServer.tokensMeter()
        let admin = try await MeterClient.connect(to: .unixSocket(path: directory + "/meterd.sock"))
        _ = try await admin.createMeter(meter)
        await admin.close()

        for endpoint in endpoints {
            let address: MeterAddress
            switch endpoint {
            case .unixSocket(let path): address = .unixSocket(path: path)
            case .tcp(let host, let port): address = .tcp(host: host, port: port)
            }
            let client = try await MeterClient.connect(to: address)
            // Round trip: one request at a time (Health/Check goes through the writer queue).
            var latencies: [Double] = []
            for _ in 0..<2000 {
                let start = ContinuousClock.now
                _ = try await client.healthCheck()
                latencies.append(milliseconds(ContinuousClock.now - start))
            }
            latencies.sort()
            print("\(endpoint): round trip p50 \(format(latencies[1000] * 1000)) µs, p99 \(format(latencies[1980] * 1000)) µs")

            // Pipelined: 64 requests in flight on the one connection.
            let pipelined = 64 * 200
            let pipelineStart = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<64 {
                    group.addTask { for _ in 0..<200 { _ = try await client.healthCheck() } }
                }
                try await group.waitForAll()
            }
            let pipelineSeconds = milliseconds(ContinuousClock.now - pipelineStart) / 1000
            print("\(endpoint): pipelined \(format(Double(pipelined) / pipelineSeconds)) requests/s (64 in flight, one connection)")

            // Batched, durable: 8 writers, IngestBatch of 1000 events each.
            let tag = endpoint.description.hasPrefix("unix") ? "u" : "t"
            let batches = (0..<8).map { writer in
                (0..<25).map { batch in
                    (0..<1000).map { index -> Meterd_V1_Event in
                        var event = Meterd_V1_Event()
                        event.eventID = "\(tag)\(writer)-\(batch)-\(index)"
                        event.eventName = "tokens_used"
                        event.customerID = "customer-\((batch * 1000 + index) % 10_000)"
                        event.timestampMs = EngineOptions.systemClock()
                        var tokens = Meterd_V1_Property()
                        tokens.key = "tokens"
                        tokens.value.integerValue = Int64(index)
                        event.properties = [tokens]
                        return event
                    }
                }
            }
            let ingestStart = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<8 {
                    group.addTask { for batch in batches[writer] { _ = try await client.ingestBatch(batch) } }
                }
                try await group.waitForAll()
            }
            let ingestSeconds = milliseconds(ContinuousClock.now - ingestStart) / 1000
            print("\(endpoint): \(format(Double(8 * 25 * 1000) / ingestSeconds)) durable events/s (IngestBatch of 1000, 8 in flight)")
            await client.close()
        }
        await running.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}
