import Foundation
import MeterClient
import MeterProto
import MeterTestSupport
import MeterWire
import NIOCore
import XCTest

/// Entitlements/WatchNotifications through a real meterd child process: the backlog then live
/// notifications, resuming from the cursor after a disconnect and after a SIGKILL restart with
/// nothing missed and nothing twice, the stream ended cleanly when meterd shuts down, and
/// `meterctl notifications --follow` printing each notification as it is raised.
final class NotificationStreamEndToEndTests: XCTestCase {
    private func connect(_ server: ServerProcess) async throws -> MeterClient {
        try await MeterClient.connect(to: .unixSocket(path: server.socketPath))
    }

    private func ingest(_ client: MeterClient, _ ids: [String], customer: String = "acme") async throws {
        let response = try await client.ingestBatch(ids.map { SidecarEndToEndTests.event($0, customer: customer) })
        XCTAssertEqual(response.rejected, 0)
    }

    /// A meter counting api_call, with one rule per level 1...6 for every customer: each event of
    /// a customer raises exactly one notification.
    private func prepare(_ server: ServerProcess) async throws -> MeterClient {
        let admin = try await connect(server)
        _ = try await admin.createMeter(SidecarEndToEndTests.countMeter())
        for level in 1...6 {
            _ = try await admin.addThresholdRule(meter: MeterClient.reference("api_call"), value: "\(level)")
        }
        return admin
    }

    func testWatchGetsTheBacklogThenLiveNotificationsAndResumesExactlyFromItsCursor() async throws {
        let server = try ServerProcess(self)
        var admin = try await prepare(server)
        try await ingest(admin, ["e1"])
        try await ingest(admin, ["e2"])

        // Backlog, then a notification raised while watching.
        var watcher = try await connect(server)
        var watch = NotificationCollector(watcher.watchNotifications(after: 0))
        try await watch.waitFor(count: 2)
        try await ingest(admin, ["e3"])
        try await watch.waitFor(count: 3)
        XCTAssertEqual(watch.numbers, [1, 2, 3])
        XCTAssertEqual(watch.received.map(\.usage), ["1", "2", "3"])
        XCTAssertEqual(watch.received.map(\.customerID), ["acme", "acme", "acme"])

        // Cancelling ends the stream cleanly (CANCEL, then RESPONSE CANCELLED).
        try await watch.cancelAndWait()
        XCTAssertNil(watch.failure, "cancelling failed the stream: \(String(describing: watch.failure))")
        await watcher.close()
        var cursor = try XCTUnwrap(watch.numbers.last)

        // Raised while nobody watches; a new connection from the cursor gets exactly those.
        try await ingest(admin, ["e4"])
        try await ingest(admin, ["e5"])
        watcher = try await connect(server)
        watch = NotificationCollector(watcher.watchNotifications(after: cursor))
        try await watch.waitFor(count: 2)
        try await ingest(admin, ["e6"])
        try await watch.waitFor(count: 3)
        XCTAssertEqual(watch.numbers, [4, 5, 6], "missed or repeated notifications after resuming from \(cursor)")
        cursor = try XCTUnwrap(watch.numbers.last)
        try await watch.cancelAndWait()
        await watcher.close()
        await admin.close()

        // SIGKILL: the notifications come back from the log and the numbering holds.
        server.child.signal(SIGKILL)
        _ = server.child.wait()
        try server.restart()
        admin = try await connect(server)
        try await ingest(admin, ["b1"], customer: "beta")
        watcher = try await connect(server)
        watch = NotificationCollector(watcher.watchNotifications(after: cursor))
        try await watch.waitFor(count: 1)
        XCTAssertEqual(watch.numbers, [7])
        XCTAssertEqual(watch.received.first?.customerID, "beta")
        let everything = NotificationCollector(watcher.watchNotifications(after: 0))
        try await everything.waitFor(count: 7)
        XCTAssertEqual(everything.numbers, Array(1...7), "replay after SIGKILL changed the notifications")
        try await everything.cancelAndWait()

        // A meter filter: only that meter's; an unknown meter is NOT_FOUND.
        let unknown = NotificationCollector(watcher.watchNotifications(after: 0, meter: MeterClient.reference("no_such_meter")))
        try await unknown.waitForEnd()
        XCTAssertEqual((unknown.failure as? MeterClientError)?.code, .notFound)
        let filtered = NotificationCollector(watcher.watchNotifications(after: 5, meter: MeterClient.reference("api_call")))
        try await filtered.waitFor(count: 2)
        XCTAssertEqual(filtered.numbers, [6, 7])
        try await filtered.cancelAndWait()

        // Shutting down ends the open stream with OK before the GOAWAY: the sequence finishes.
        XCTAssertEqual(watch.numbers, [7])
        await admin.close()
        XCTAssertEqual(server.stop(), 0)
        try await watch.waitForEnd()
        XCTAssertNil(watch.failure, "a draining server failed the stream: \(String(describing: watch.failure))")
        XCTAssertEqual(watch.numbers, [7])
        await watcher.close()
    }

    func testCancellingAWatchGivesItsInFlightSlotBack() async throws {
        // Two slots: if CANCEL did not end the server's streams (RESPONSE CANCELLED), the
        // second round could not start (the client waits for a free slot) and would time out.
        let server = try ServerProcess(self, arguments: ["--max-in-flight", "2"])
        defer { XCTAssertEqual(server.stop(), 0) }
        let admin = try await prepare(server)
        try await ingest(admin, ["e1"])
        let watcher = try await connect(server)
        for round in 1...3 {
            let first = NotificationCollector(watcher.watchNotifications(after: 0))
            let second = NotificationCollector(watcher.watchNotifications(after: 0))
            try await first.waitFor(count: 1)
            try await second.waitFor(count: 1)
            try await first.cancelAndWait()
            try await second.cancelAndWait()
            XCTAssertEqual(first.numbers + second.numbers, [1, 1], "round \(round)")
        }
        let health = try await watcher.call(.healthCheck, Meterd_V1_HealthCheckRequest(), as: Meterd_V1_HealthCheckResponse.self)
        XCTAssertEqual(health.status, .serving)
        await watcher.close()
        await admin.close()
    }

    func testAWatcherThatStopsReadingLosesNothingAndHoldsUpNoOne() async throws {
        let server = try ServerProcess(self)
        defer { XCTAssertEqual(server.stop(), 0) }
        let admin = try await prepare(server)
        // 6,000 notifications: 1,000 customers x 6 events, each event one crossing.
        let customers = 1000
        for round in 0..<6 {
            let events = (0..<customers).map { SidecarEndToEndTests.event("r\(round)-c\($0)", customer: "c\($0)") }
            let response = try await admin.ingestBatch(events)
            XCTAssertEqual(response.accepted, UInt32(customers))
        }
        let total = UInt64(customers * 6)

        // A watcher with a tiny receive buffer that does not read: the server's writes to it stall.
        let slow = try RawWireClient(.unix(server.socketPath), timeoutSeconds: 30, receiveBufferBytes: 4096)
        try slow.handshake()
        try slow.send(WireFrame(type: .request, code: MethodID.watchNotifications.rawValue, streamId: 1,
                                payload: try ProtobufPayload.encode(Meterd_V1_WatchNotificationsRequest())))
        // Meanwhile another connection watches, and a new notification is raised and delivered.
        let other = try await connect(server)
        let live = NotificationCollector(other.watchNotifications(after: total - 2))
        try await live.waitFor(count: 2)
        try await ingest(admin, ["late-1"], customer: "late")
        try await live.waitFor(count: 3)
        XCTAssertEqual(live.numbers, [total - 1, total, total + 1])
        try await live.cancelAndWait()

        // Reading now: every notification, in order, each once, then CANCEL ends the stream.
        var expected: UInt64 = 1
        while expected <= total + 1 {
            let frame = try XCTUnwrap(try slow.readFrame(), "the connection closed at \(expected)")
            XCTAssertEqual(frame.type, .message, slow.goAwayReason(frame))
            XCTAssertEqual(frame.streamId, 1)
            let notification = try ProtobufPayload.decode(Meterd_V1_Notification.self, from: frame.payload)
            guard notification.number == expected else {
                return XCTFail("got notification \(notification.number), expected \(expected)")
            }
            expected += 1
        }
        try slow.send(WireFrame(type: .cancel, streamId: 1, payload: ByteBuffer()))
        let end = try XCTUnwrap(try slow.readFrame())
        XCTAssertEqual(end.type, .response)
        XCTAssertEqual(StatusCode(rawValue: end.code), .cancelled)
        await other.close()
        await admin.close()
    }

    func testMeterctlFollowPrintsEachNotificationAsItIsRaisedAndTheCursor() async throws {
        let server = try ServerProcess(self)
        defer { XCTAssertEqual(server.stop(), 0) }
        let admin = try await prepare(server)
        try await ingest(admin, ["e1"])

        let follow = try ChildProcess("meterctl", ["notifications", "--follow", "--after", "0", "--socket", server.socketPath])
        let first = try XCTUnwrap(follow.nextLine())
        XCTAssertTrue(first.hasPrefix("#1 "), first)
        try await ingest(admin, ["e2"])
        let second = try XCTUnwrap(follow.nextLine())
        XCTAssertTrue(second.hasPrefix("#2 "), second)
        XCTAssertTrue(second.contains("usage 2 reached 2"), second)
        follow.signal(SIGTERM)
        let exit = follow.wait()
        XCTAssertTrue(exit.errorOutput.contains("cursor 2"), exit.errorOutput)

        // Resuming with --after prints only what came later.
        try await ingest(admin, ["e3"])
        let resumed = try ChildProcess("meterctl", ["notifications", "--follow", "--after", "2", "--socket", server.socketPath])
        let third = try XCTUnwrap(resumed.nextLine())
        XCTAssertTrue(third.hasPrefix("#3 "), third)
        resumed.signal(SIGTERM)
        resumed.wait()
        await admin.close()
    }
}

/// Consumes a notification stream in a task, so a test can wait (polling with a deadline) for
/// what has arrived, and cancel it.
final class NotificationCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Meterd_V1_Notification] = []
    private var ended = false
    private var error: (any Error)?
    private var task: Task<Void, Never>?

    init(_ stream: AsyncThrowingStream<Meterd_V1_Notification, any Error>) {
        task = Task { [self] in
            do {
                for try await notification in stream { lock.withLock { items.append(notification) } }
                lock.withLock { ended = true }
            } catch {
                lock.withLock {
                    self.error = error
                    ended = true
                }
            }
        }
    }

    var received: [Meterd_V1_Notification] { lock.withLock { items } }
    var numbers: [UInt64] { received.map(\.number) }
    var failure: (any Error)? { lock.withLock { error } }
    var hasEnded: Bool { lock.withLock { ended } }

    func waitFor(count: Int, timeout: Duration = .seconds(30)) async throws {
        try await poll("\(count) notifications (have \(numbers))", timeout: timeout) { received.count >= count }
        XCTAssertEqual(received.count, count, "more notifications than expected: \(numbers)")
    }

    func waitForEnd(timeout: Duration = .seconds(30)) async throws {
        try await poll("the end of the stream", timeout: timeout) { hasEnded }
    }

    func cancelAndWait() async throws {
        task?.cancel()
        await task?.value
    }

    private func poll(_ what: String, timeout: Duration, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { throw RawClientError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
