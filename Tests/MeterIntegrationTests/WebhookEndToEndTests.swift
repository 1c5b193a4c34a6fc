import Foundation
import MeterClient
import MeterProto
import MeterTestSupport
import XCTest

/// meterd --webhook-url against a real local receiver that fails the first attempts, with a
/// SIGKILL in the middle of delivery: every notification reaches the receiver with a 2xx, under
/// one delivery id each, and the cursor survives the restart.
final class WebhookEndToEndTests: XCTestCase {
    private func waitUntil(_ what: String, timeout: Duration = .seconds(60), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { throw RawClientError("timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func testEachNotificationIsDeliveredAcrossASigkillInTheMiddleOfDelivery() async throws {
        // Requests 0-1 fail, 2 succeeds (ntf_1), 3-7 fail (ntf_2 retries with backoff while
        // meterd is killed), the rest succeed.
        let receiver = try WebhookReceiver(answer: { index in index == 2 || index >= 8 ? 200 : 500 })
        defer { receiver.close() }
        let directory = try TemporaryDirectory("meterd-webhook-e2e", removedBy: { self.addTeardownBlock($0) })
        let secretFile = directory.file("secret")
        try "s3cret\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
        let server = try ServerProcess(self, arguments: ["--webhook-url", "http://127.0.0.1:\(receiver.port)/hooks",
                                                         "--webhook-secret-file", secretFile, "--webhook-max-attempts", "50"],
                                       directory: directory.file("server"))
        var client = try await MeterClient.connect(to: .unixSocket(path: server.socketPath))
        _ = try await client.createMeter(SidecarEndToEndTests.countMeter())
        _ = try await client.addThresholdRule(meter: MeterClient.reference("api_call"), value: "1")
        let customers = (1...6).map { "customer-\($0)" }
        _ = try await client.ingestBatch(customers.map { SidecarEndToEndTests.event("e-\($0)", customer: $0) })
        await client.close()

        func delivered() -> Set<String> { Set(receiver.requests.filter { $0.answered == 200 }.map(\.deliveryId)) }
        try await waitUntil("a first notification is delivered") { !delivered().isEmpty }
        server.child.signal(SIGKILL)
        _ = server.child.wait()
        let beforeRestart = delivered()
        try server.restart()
        try await waitUntil("all six are delivered") { delivered().count == 6 }

        let expected = Set((1...6).map { "ntf_\($0)" })
        XCTAssertEqual(delivered(), expected)
        let successes = receiver.requests.filter { $0.answered == 200 }
        // Only the one in flight at the SIGKILL may arrive twice (its 2xx raced the outbox save);
        // every copy of a delivery id carries the same body.
        XCTAssertLessThanOrEqual(successes.count, 7, "\(successes.map(\.deliveryId))")
        for id in expected {
            let bodies = Set(receiver.requests.filter { $0.deliveryId == id }.map(\.body))
            XCTAssertEqual(bodies.count, 1, "\(id) was sent with different bodies")
        }
        XCTAssertEqual(beforeRestart, ["ntf_1"], "killed with five notifications still to deliver")
        // Requests 3-7 were refused: whichever notification they were (ntf_2, or ntf_1 again when
        // the SIGKILL beat the outbox save), it was retried under its own id until a 2xx.
        let refusedAfterFirstSuccess = receiver.requests.dropFirst(3).prefix(5)
        XCTAssertEqual(refusedAfterFirstSuccess.map(\.answered), [500, 500, 500, 500, 500])
        for refused in refusedAfterFirstSuccess {
            XCTAssertTrue(successes.contains { $0.deliveryId == refused.deliveryId }, "\(refused.deliveryId) delivered in the end")
        }
        client = try await MeterClient.connect(to: .unixSocket(path: server.socketPath))
        let page = try await client.listNotifications(afterNumber: 0, limit: 100)
        XCTAssertEqual(page.notifications.map(\.number), [1, 2, 3, 4, 5, 6], "raised once each, across the SIGKILL")
        let status = try await client.webhookStatus()
        XCTAssertTrue(status.enabled)
        XCTAssertEqual(status.deliveredThrough, 6)
        XCTAssertEqual(status.lastNotificationNumber, 6)
        XCTAssertTrue(status.deadLetters.isEmpty)
        await client.close()
        let control = try ChildProcess("meterctl", ["webhooks", "--socket", server.socketPath])
        let shown = control.remainingLines().joined(separator: "\n")
        XCTAssertEqual(control.wait().status, 0)
        XCTAssertTrue(shown.contains("delivered through:  #6 of #6"), shown)
        XCTAssertEqual(server.stop(), 0)
        let outbox = try String(contentsOfFile: directory.file("server") + "/data/webhook-outbox", encoding: .utf8)
        XCTAssertTrue(outbox.hasPrefix("delivered-through 6\n"), outbox)
    }
}
