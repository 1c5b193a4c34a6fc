import Foundation
import Synchronization
import MeterClient
import MeterProto
import MeterTestSupport

/// Ingest into meterd servers that are already running (a single node, or the nodes of a
/// cluster: scripts/cluster-bench), over their Unix sockets: writers spread round-robin over the
/// sockets, each sending IngestBatch requests one after another. Prints events/s and the
/// latency of a batch's acknowledgement (p50, p99), the figures docs/cluster.md compares.
enum RemoteBenchmark {
    static func run(sockets: [String], batchesPerWriter: Int, writers: Int, batchSize: Int) async throws {
        let admin = try await MeterClient.connect(to: .unixSocket(path: sockets[0]))
        let created: Result<Meterd_V1_Meter, MeterClientError>
        do throws(MeterClientError) {
            created = .success(try await admin.createMeter(InProcessServer.tokensMeter(), timeout: .seconds(30)))
        } catch {
            created = .failure(error)
        }
        // A second run against the same servers finds the meter there.
        if case .failure(let error) = created {
            guard case .status(_, _, let reason) = error, reason == "METER_ALREADY_EXISTS" else { throw error }
        }
        await admin.close()
        var clients: [MeterClient] = []
        for writer in 0..<writers {
            clients.append(try await MeterClient.connect(to: .unixSocket(path: sockets[writer % sockets.count])))
        }
        let runId = UInt64.random(in: 0...UInt64.max)
        print("== remote ingest: \(sockets.count) server(s), \(writers) writers x \(batchesPerWriter) IngestBatch of \(batchSize), one batch in flight per writer")
        let retried = RetryCount()
        let start = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for writer in 0..<writers {
                let client = clients[writer]
                group.addTask {
                    var random = SplitMix64(seed: runId ^ UInt64(writer))
                    var latencies: [Double] = []
                    for batch in 0..<batchesPerWriter {
                        let events = (0..<batchSize).map { index -> Meterd_V1_Event in
                            var event = Meterd_V1_Event()
                            event.eventID = "r\(runId)-\(writer)-\(batch)-\(index)"
                            event.eventName = "tokens_used"
                            event.customerID = "customer-\(random.next() % 10_000)"
                            event.timestampMs = Int64(Date().timeIntervalSince1970 * 1000)
                            var tokens = Meterd_V1_Property()
                            tokens.key = "tokens"
                            tokens.value.integerValue = Int64(random.next() % 4000)
                            event.properties = [tokens]
                            return event
                        }
                        let sent = ContinuousClock.now
                        // A batch answered UNAVAILABLE (a cluster partition moving, a NATS failover)
                        // is sent again unchanged, with backoff, for up to 60 s: its latency
                        // includes the retries; events stored by an earlier attempt come back
                        // as duplicates.
                        var attempts = 0
                        var response: Meterd_V1_IngestBatchResponse
                        while true {
                            attempts += 1
                            do {
                                response = try await client.ingestBatch(events, timeout: .seconds(60))
                                break
                            } catch {
                                guard let failure = error as? MeterClientError, case .status(.unavailable, _, _) = failure,
                                      ContinuousClock.now - sent < .seconds(60) else { throw error }
                                retried.value.add(1, ordering: .relaxed)
                                try await Task.sleep(for: .milliseconds(100))
                            }
                        }
                        latencies.append(WireBenchmark.milliseconds(ContinuousClock.now - sent))
                        let stored = Int(response.accepted) + (attempts > 1 ? Int(response.duplicates) : 0)
                        guard stored == batchSize else { throw RemoteBenchmarkError("batch \(batch) of writer \(writer): \(response.accepted) of \(batchSize) accepted") }
                    }
                    return latencies
                }
            }
            return try await group.reduce(into: [Double]()) { $0.append(contentsOf: $1) }.sorted()
        }
        let seconds = WireBenchmark.milliseconds(ContinuousClock.now - start) / 1000
        let total = writers * batchesPerWriter * batchSize
        func percentile(_ fraction: Double) -> String {
            String(format: "%.2f", latencies[min(latencies.count - 1, Int(Double(latencies.count) * fraction))])
        }
        print("\(format(Double(total) / seconds)) acknowledged events/s; batch ack latency p50 \(percentile(0.5)) ms, p99 \(percentile(0.99)) ms, max \(String(format: "%.2f", latencies.last ?? 0)) ms (\(latencies.count) batches)"
              + (retried.value.load(ordering: .relaxed) > 0 ? "; \(retried.value.load(ordering: .relaxed)) attempts answered UNAVAILABLE and retried" : ""))
        for client in clients { await client.close() }
    }
}

struct RemoteBenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// How many batch attempts were answered UNAVAILABLE and sent again.
final class RetryCount: Sendable {
    let value = Atomic<Int>(0)
}
