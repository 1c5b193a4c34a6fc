import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MeterCore
import MeterEngine
import MeterOperations
import MeterServer
import NIOConcurrencyHelpers

/// Notifications delivered per second by the webhook dispatcher: an engine (fsync) with one
/// COUNT meter and a threshold rule "usage >= 1" for every customer raises one notification per
/// new customer; `count` events of `count` customers are ingested in batches of 1,000 (which also
/// shows what raising costs at ingest), then the dispatcher delivers them to a local Hummingbird
/// receiver (HTTP/1.1 keep-alive on 127.0.0.1) that checks every signature. Prints the raise rate
/// and the delivery rate.
enum WebhookBenchmark {
    static func run(directory: String, count: Int) async throws {
        try? FileManager.default.removeItem(atPath: directory)
        var options = EngineOptions(dataDirectory: directory + "/data")
        options.durability = .fsync
        let engine = try MeterEngine.open(options: options)
        _ = try await engine.createMeter(MeterDefinition(eventName: "api_call", displayName: "API calls", aggregation: .count))
        _ = try await engine.change(.addThresholdRule(tenantId: Tenant.defaultId, meter: .eventName("api_call"), customerId: nil,
                                                      level: .absolute(ExactDecimal(1)), actor: .bootstrap))
        print("== webhooks: \(count) notifications (one per new customer, rule usage >= 1), engine fsync, receiver Hummingbird HTTP/1.1 on 127.0.0.1")
        let raiseStarted = ContinuousClock.now
        let now = options.clock()
        for start in stride(from: 0, to: count, by: 1000) {
            let events = (start..<Swift.min(count, start + 1000)).map {
                UsageEvent(eventId: "event-\($0)", eventName: "api_call", customerId: "customer-\($0)", timestampMilliseconds: now)
            }
            _ = try await engine.ingest(events: events)
        }
        let raiseSeconds = seconds(ContinuousClock.now - raiseStarted)
        print(String(format: "raised: %d events (each crossing the rule) in %.2f s, %.0f events/s", count, raiseSeconds, Double(count) / raiseSeconds))

        let secret = Array("bench-secret".utf8)
        let received = NIOLockedValueBox((count: 0, badSignatures: 0))
        let router = Router()
        router.post("/hooks") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 20)
            let bytes = Array(body.readableBytesView)
            let good = request.headers[HTTPField.Name(WebhookSignature.headerName)!] == WebhookSignature.value(body: bytes, secret: secret)
            received.withLockedValue { state in
                state.count += 1
                if !good { state.badSignatures += 1 }
            }
            return .ok
        }
        let port = NIOLockedValueBox(0)
        let server = Task {
            try await MetricsEndpoint.serve(router, host: "127.0.0.1", port: 0, logger: Logger(label: "bench-receiver")) { _, bound in
                port.withLockedValue { $0 = bound }
            }
        }
        while port.withLockedValue({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(5)) }

        let configuration = WebhookConfiguration(url: URL(string: "http://127.0.0.1:\(port.withLockedValue { $0 })/hooks")!, secret: secret,
                                                 outboxPath: directory + "/webhook-outbox")
        var logger = Logger(label: "bench-webhooks")
        logger.logLevel = .warning
        let dispatcher = try WebhookDispatcher(engine: engine, configuration: configuration, logger: logger)
        let deliveryStarted = ContinuousClock.now
        let delivering = Task { await dispatcher.run() }
        while dispatcher.status.deliveredThrough < UInt64(count) { try await Task.sleep(for: .milliseconds(2)) }
        let deliverySeconds = seconds(ContinuousClock.now - deliveryStarted)
        delivering.cancel()
        await delivering.value
        server.cancel()
        let state = received.withLockedValue { $0 }
        print(String(format: "delivered: %d notifications in %.2f s, %.0f notifications/s (one POST at a time; the cursor rewritten after each, synced at the end of each page of 100); receiver saw %d requests, %d bad signatures",
                     count, deliverySeconds, Double(count) / deliverySeconds, state.count, state.badSignatures))
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
