import Foundation
import MeterClient
import MeterCore
import MeterEngine
import MeterProto
import MeterTestSupport

/// CheckEntitlement latency while ingest runs at a target rate, with meterd in-process over the
/// Unix socket: writers send IngestBatch of 1,000 events (10,000 customers) paced to
/// `eventsPerSecond`; one connection sends CheckEntitlement for random customers back to back
/// and records each round trip. Prints the check latency percentiles, the checks per second and
/// the ingest rate reached.
enum EntitlementBenchmark {
    static func run(directory: String, eventsPerSecond: Int, seconds: Int) async throws {
        let running = try await InProcessServer.start(directory: directory, durability: .fsync, tcp: false)
        let admin = try await MeterClient.connect(to: .unixSocket(path: running.socketPath))
        let meter = InProcessServer.tokensMeter()
        _ = try await admin.createMeter(meter)
        let reference = MeterClient.reference(meter.eventName)
        _ = try await admin.setEntitlement(meter: reference, limit: "1000000000")
        // METERD_BENCH_NO_RULE=1 measures without the threshold rule (no crossing evaluation on apply).
        let withRule = ProcessInfo.processInfo.environment["METERD_BENCH_NO_RULE"] != "1"
        if withRule { _ = try await admin.addThresholdRule(meter: reference, percent: "80") }

        let writers = 4
        let batchSize = 1000
        let batchesPerSecondPerWriter = Swift.max(1, eventsPerSecond / batchSize / writers)
        let deadline = ContinuousClock.now + .seconds(seconds)
        print("== entitlement: meterd in-process, fsync, unix socket; \(writers) writers paced to \(writers * batchesPerSecondPerWriter * batchSize) events/s for \(seconds) s; CheckEntitlement back to back; threshold rule: \(withRule ? "80% of the entitlement" : "none"); check view: \(ProcessInfo.processInfo.environment["METERD_BENCH_NO_VIEW"] == "1" ? "off (writer queue)" : "on")")
        let checker = try await MeterClient.connect(to: .unixSocket(path: running.socketPath))
        async let checks: [Duration] = {
            var random = SplitMix64(seed: 7)
            var latencies: [Duration] = []
            while ContinuousClock.now < deadline {
                let customer = "customer-\(random.next() % 10_000)"
                let started = ContinuousClock.now
                _ = try? await checker.checkEntitlement(meter: reference, customerId: customer)
                latencies.append(ContinuousClock.now - started)
            }
            return latencies
        }()
        let ingested = try await withThrowingTaskGroup(of: Int.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var random = SplitMix64(seed: UInt64(writer + 1))
                    var accepted = 0
                    var next = ContinuousClock.now
                    var batchNumber = 0
                    while ContinuousClock.now < deadline {
                        let batch = (0..<batchSize).map { index -> Meterd_V1_Event in
                            var event = Meterd_V1_Event()
                            event.eventID = "w\(writer)-b\(batchNumber)-\(index)"
                            event.eventName = meter.eventName
                            event.customerID = "customer-\(random.next() % 10_000)"
                            event.timestampMs = EngineOptions.systemClock()
                            var tokens = Meterd_V1_Property()
                            tokens.key = "tokens"
                            tokens.value.integerValue = Int64(random.next() % 4000)
                            event.properties = [tokens]
                            return event
                        }
                        batchNumber += 1
                        accepted += Int(try await admin.ingestBatch(batch).accepted)
                        next = next + .milliseconds(1000 / batchesPerSecondPerWriter)
                        if next > ContinuousClock.now { try await Task.sleep(until: next) }
                    }
                    return accepted
                }
            }
            return try await group.reduce(0, +)
        }
        let latencies = try await checks.sorted()
        func percentile(_ fraction: Double) -> String {
            guard !latencies.isEmpty else { return "-" }
            let value = latencies[Swift.min(latencies.count - 1, Int(Double(latencies.count) * fraction))]
            return String(format: "%.3f ms", WireBenchmark.milliseconds(value))
        }
        print("ingest: \(ingested / seconds) events/s accepted")
        print("CheckEntitlement: \(latencies.count / seconds) checks/s, p50 \(percentile(0.5)), p99 \(percentile(0.99)), max \(percentile(1.0))")
        let counts = running.engine.checkView.counts
        print("check view: \(counts.hits) answered from the view, \(counts.misses) left to the writer")
        await checker.close()
        await admin.close()
        await running.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
