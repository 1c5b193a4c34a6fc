import Crypto
import Foundation
import Logging
import MeterCore
import MeterEngine
@testable import MeterServer
import MeterTestSupport
import XCTest

/// Webhook delivery against a real local HTTP server that fails the first attempts: each
/// notification arrives once with a 2xx, retries carry the same delivery id, the signature is
/// the HMAC-SHA256 of the body, and a restarted dispatcher resumes from its outbox.
final class WebhookDispatcherTests: XCTestCase {
    private static let secret = Array("test-secret".utf8)

    private func waitUntil(_ what: String, timeout: Duration = .seconds(30), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { return XCTFail("timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func testRetriesWithTheSameDeliveryIdThenDeliversEachOnceAndResumesFromTheOutbox() async throws {
        let directory = try TemporaryDirectory("meterd-webhook", removedBy: { self.addTeardownBlock($0) })
        var options = EngineOptions(dataDirectory: directory.file("data"))
        options.durability = .none
        let engine = try MeterEngine.open(options: options)
        let receiver = try WebhookReceiver(failuresBeforeSuccess: 3)
        defer { receiver.close() }

        _ = try await engine.createMeter(MeterDefinition(eventName: "api_call", displayName: "API calls", aggregation: .count))
        _ = try await engine.change(.addThresholdRule(tenantId: Tenant.defaultId, meter: .eventName("api_call"), customerId: nil,
                                                      level: .absolute(ExactDecimal(2)), actor: .bootstrap)).thresholdRule
        let now = options.clock()
        _ = try await engine.ingest(events: ["a", "b"].map { UsageEvent(eventId: $0, eventName: "api_call", customerId: "acme", timestampMilliseconds: now) })
        _ = try await engine.ingest(events: ["c", "d"].map { UsageEvent(eventId: $0, eventName: "api_call", customerId: "globex", timestampMilliseconds: now) })

        var configuration = WebhookConfiguration(url: URL(string: "http://127.0.0.1:\(receiver.port)/hooks")!, secret: Self.secret,
                                                 outboxPath: directory.file("webhook-outbox"), maximumAttempts: 5,
                                                 initialBackoff: .milliseconds(20), maximumBackoff: .milliseconds(100))
        var dispatcher = try WebhookDispatcher(engine: engine, configuration: configuration, logger: Logger(label: "test"))
        var running = Task { [dispatcher] in await dispatcher.run() }
        try await waitUntil("both notifications are delivered") { dispatcher.status.deliveredThrough == 2 }
        running.cancel()
        await running.value

        let requests = receiver.requests
        XCTAssertEqual(requests.map(\.deliveryId), ["ntf_1", "ntf_1", "ntf_1", "ntf_1", "ntf_2"])
        XCTAssertEqual(requests.map(\.answered), [500, 500, 500, 200, 200])
        XCTAssertEqual(requests.filter { $0.answered == 200 }.map(\.deliveryId), ["ntf_1", "ntf_2"], "each once")
        for request in requests {
            let code = HMAC<SHA256>.authenticationCode(for: request.body, using: SymmetricKey(data: Self.secret))
            XCTAssertEqual(request.signature, "sha256=" + code.map { String(format: "%02x", $0) }.joined())
        }
        let first = String(decoding: requests[0].body, as: UTF8.self)
        XCTAssertTrue(first.contains("\"delivery_id\":\"ntf_1\"") && first.contains("\"customer_id\":\"acme\"") && first.contains("\"usage\":\"2\""), first)
        XCTAssertEqual(dispatcher.status.delivered, 2)
        XCTAssertEqual(dispatcher.status.failedAttempts, 3)
        XCTAssertTrue(try String(contentsOfFile: configuration.outboxPath, encoding: .utf8).hasPrefix("delivered-through 2\n"))

        // A new dispatcher (a restart) resumes after the outbox's cursor; a receiver that keeps
        // failing gets the next notification dead-lettered after the configured attempts.
        _ = try await engine.ingest(events: ["e", "f"].map { UsageEvent(eventId: $0, eventName: "api_call", customerId: "initech", timestampMilliseconds: now) })
        let failing = try WebhookReceiver(failuresBeforeSuccess: 1_000)
        defer { failing.close() }
        configuration.url = URL(string: "http://127.0.0.1:\(failing.port)/hooks")!
        configuration.maximumAttempts = 3
        dispatcher = try WebhookDispatcher(engine: engine, configuration: configuration, logger: Logger(label: "test"))
        running = Task { [dispatcher] in await dispatcher.run() }
        try await waitUntil("the third notification is dead-lettered") { dispatcher.status.deadLettered == 1 }
        running.cancel()
        await running.value
        XCTAssertEqual(failing.requests.map(\.deliveryId), ["ntf_3", "ntf_3", "ntf_3"], "nothing delivered before was sent again")
        XCTAssertEqual(dispatcher.status.deadLetters, [3])
        XCTAssertEqual(try WebhookOutbox.load(configuration.outboxPath).deadLetters.map(\.number), [3])
        await engine.shutdown()
    }

    /// The vector docs/examples/verify_webhook.py checks with Python's hmac module.
    func testSignatureMatchesThePythonExamplesVector() {
        XCTAssertEqual(WebhookSignature.value(body: Array(#"{"delivery_id":"ntf_1","number":1}"#.utf8), secret: Array("s3cret".utf8)),
                       "sha256=1688bc3ae3634945cc1a1dc137011d4b6fa8d868299599dec4938313363d15ee")
    }

    func testBackoffDoublesUpToTheCapWithJitter() {
        let configuration = WebhookConfiguration(url: URL(string: "http://127.0.0.1:1/")!, secret: [], outboxPath: "/dev/null",
                                                 initialBackoff: .milliseconds(100), maximumBackoff: .seconds(1))
        XCTAssertEqual(configuration.backoff(afterAttempt: 1, random: 1), .milliseconds(100))
        XCTAssertEqual(configuration.backoff(afterAttempt: 3, random: 1), .milliseconds(400))
        XCTAssertEqual(configuration.backoff(afterAttempt: 3, random: 0), .milliseconds(200))
        XCTAssertEqual(configuration.backoff(afterAttempt: 20, random: 1), .seconds(1))
    }
}
