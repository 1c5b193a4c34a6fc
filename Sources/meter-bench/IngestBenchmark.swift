import MeterTestSupport
import Foundation
import MeterClient
import MeterCore
import MeterEngine
import MeterProto
import MeterServer
import MeterWireServer

/// Durable batched ingest alone, over the Unix socket, with meterd in-process: the figure the
/// wire suite prints last, without the latency and pipelining runs before it, so a profiler
/// (`valgrind --tool=callgrind`) sees only this path. Events carry 32-hex-character ids, a
/// customer of 10,000, and two properties (a model and a token count) that a filtered SUM counts.
enum IngestBenchmark {
    static func run(directory: String, batchesPerWriter: Int, writers: Int, durability: Durability) async throws {
        let running = try await InProcessServer.start(directory: directory, durability: durability, tcp: false)
        let client = try await MeterClient.connect(to: .unixSocket(path: running.socketPath))
        let meter = InProcessServer.tokensMeter(models: ["llama3.1", "llama3.2"])
        _ = try await client.createMeter(meter)

        let batchSize = 1000
        var random = SplitMix64(seed: 42)
        let batches = (0..<writers).map { writer in
            (0..<batchesPerWriter).map { batch in
                (0..<batchSize).map { index -> Meterd_V1_Event in
                    var event = Meterd_V1_Event()
                    let high = random.next(), low = random.next()
                    event.eventID = hex(high) + hex(low)
                    event.eventName = "tokens_used"
                    event.customerID = "customer-\(random.next() % 10_000)"
                    event.timestampMs = EngineOptions.systemClock()
                    var model = Meterd_V1_Property()
                    model.key = "model"
                    model.value.stringValue = (writer + batch + index) % 2 == 0 ? "llama3.1" : "llama3.2"
                    var tokens = Meterd_V1_Property()
                    tokens.key = "tokens"
                    tokens.value.integerValue = Int64(random.next() % 4000)
                    event.properties = [model, tokens]
                    return event
                }
            }
        }
        print("== ingest: meterd in-process, durability \(durability), unix socket, \(writers) writers x \(batchesPerWriter) IngestBatch of \(batchSize)")
        let start = ContinuousClock.now
        let accepted = try await withThrowingTaskGroup(of: Int.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var accepted = 0
                    for batch in batches[writer] { accepted += Int(try await client.ingestBatch(batch).accepted) }
                    return accepted
                }
            }
            return try await group.reduce(0, +)
        }
        let seconds = WireBenchmark.milliseconds(ContinuousClock.now - start) / 1000
        let total = writers * batchesPerWriter * batchSize
        print("\(format(Double(total) / seconds)) durable events/s (\(accepted) of \(total) accepted)")
        await client.close()
        await running.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func hex(_ value: UInt64) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}
