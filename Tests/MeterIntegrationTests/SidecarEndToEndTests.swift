import Foundation
import MeterClient
import MeterProto
import MeterWire
import Synchronization
import MeterTestSupport
import XCTest

/// A real `meter-sidecar` child process in front of a real `meterd`.
final class SidecarProcess {
    let directory: String
    let socketPath: String
    let spoolDirectory: String
    let deadLetterPath: String
    let arguments: [String]
    private(set) var child: ChildProcess
    /// What it printed when it started listening (it names the unsent events it recovered).
    private(set) var startLine = ""

    init(_ test: XCTestCase, upstream: String, extraArguments: [String] = []) throws {
        directory = try TemporaryDirectory("meter-sidecar", removedBy: { test.addTeardownBlock($0) }).path
        socketPath = directory + "/sidecar.sock"
        spoolDirectory = directory + "/spool"
        deadLetterPath = directory + "/dead-letter.ndjson"
        arguments = ["--listen", socketPath, "--upstream", upstream, "--spool-dir", spoolDirectory, "--dead-letter", deadLetterPath] + extraArguments
        (child, startLine) = try Self.launch(arguments)
    }

    private static func launch(_ arguments: [String]) throws -> (ChildProcess, String) {
        let child = try ChildProcess("meter-sidecar", arguments)
        while let line = child.nextLine() {
            if line.hasPrefix("meter-sidecar: listening on") { return (child, line) }
        }
        let exit = child.wait()
        throw RawClientError("meter-sidecar exited before listening: \(exit.errorOutput)")
    }

    func restart() throws { (child, startLine) = try Self.launch(arguments) }

    func kill() {
        child.signal(SIGKILL)
        child.wait()
    }

    /// SIGTERM; returns the exit status and the last line it printed.
    func stop() -> (status: Int32, lastLine: String) {
        child.signal(SIGTERM)
        let lines = child.remainingLines()
        let exit = child.wait()
        return (exit.status, lines.last ?? "")
    }
}

/// The "service": sends batches to the sidecar, reconnecting and resending (same event ids)
/// until each batch is acknowledged.
final class SidecarService: Sendable {
    let socketPath: String
    private let client = Mutex<MeterClient?>(nil)
    let acknowledged = Atomic<Int>(0)

    init(socketPath: String) { self.socketPath = socketPath }

    private func connection() async throws(MeterClientError) -> MeterClient {
        if let existing = client.withLock({ $0 }), existing.isConnected { return existing }
        let fresh = try await MeterClient.connect(to: .unixSocket(path: socketPath), clientName: "test-service")
        client.withLock { $0 = fresh }
        return fresh
    }

    /// Sends once; the error as is.
    func sendOnce(_ events: [Meterd_V1_Event]) async throws(MeterClientError) -> Meterd_V1_IngestBatchResponse {
        let connected = try await connection()
        do throws(MeterClientError) {
            return try await connected.ingestBatch(events)
        } catch {
            if case .connection = error { client.withLock { if $0 === connected { $0 = nil } } }
            throw error
        }
    }

    /// Sends until acknowledged (the sidecar may be down or restarting meanwhile).
    func send(_ events: [Meterd_V1_Event]) async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        while true {
            do throws(MeterClientError) {
                let response = try await sendOnce(events)
                XCTAssertEqual(Int(response.accepted), events.count)
                acknowledged.add(events.count, ordering: .relaxed)
                return
            } catch {
                guard error.isRetryable, ContinuousClock.now < deadline else { throw error }
                // Backoff between resends while the sidecar restarts.
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    func health() async throws -> [String: String] {
        let connected = try await connection()
        return Self.pairs(try await connected.healthCheck().message)
    }

    static func pairs(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for word in text.split(separator: " ") {
            guard let equals = word.firstIndex(of: "=") else { continue }
            result[String(word[..<equals])] = String(word[word.index(after: equals)...])
        }
        return result
    }

    /// Polls the sidecar's status until `condition` holds (bounded).
    func waitForStatus(timeout: Duration = .seconds(300), _ what: String, _ condition: ([String: String]) -> Bool) async throws -> [String: String] {
        let deadline = ContinuousClock.now + timeout
        var last: [String: String] = [:]
        while ContinuousClock.now < deadline {
            if let pairs = try? await health() {
                last = pairs
                if condition(pairs) { return pairs }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw RawClientError("timed out waiting for \(what); last status \(last)")
    }

    func close() async {
        if let existing = client.withLock({ $0 }) { await existing.close() }
    }
}

final class SidecarEndToEndTests: XCTestCase {
    static func countMeter() -> Meterd_V1_MeterDefinition {
        var definition = Meterd_V1_MeterDefinition()
        definition.eventName = "api_call"
        definition.displayName = "API calls"
        definition.aggregation = .count
        definition.reset = .cumulative
        return definition
    }

    static func event(_ id: String, customer: String = "acme", at: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> Meterd_V1_Event {
        var event = Meterd_V1_Event()
        event.eventID = id
        event.eventName = "api_call"
        event.customerID = customer
        event.timestampMs = at
        var property = Meterd_V1_Property()
        property.key = "route"
        property.value.stringValue = "/v1/chat"
        event.properties = [property]
        return event
    }

    /// Starts meterd, creates the meter, and stops it again (it is down until the test restarts it).
    private func meterdWithMeter() async throws -> ServerProcess {
        let server = try ServerProcess(self)
        let admin = try await MeterClient.connect(to: .unixSocket(path: server.socketPath))
        _ = try await admin.createMeter(Self.countMeter())
        await admin.close()
        XCTAssertEqual(server.stop(), 0)
        return server
    }

    private func usage(_ server: ServerProcess) async throws -> String {
        let client = try await MeterClient.connect(to: .unixSocket(path: server.socketPath))
        defer { Task { await client.close() } }
        return try await client.currentUsage(MeterClient.reference("api_call")).row.value
    }

    func testEveryAcknowledgedEventIsCountedOnceThroughMeterdAndSidecarCrashes() async throws {
        let total = Int(ProcessInfo.processInfo.environment["SIDECAR_E2E_EVENTS"] ?? "") ?? 100_000
        let perRequest = 500
        let senders = 4
        let server = try await meterdWithMeter()
        let sidecar = try SidecarProcess(self, upstream: "unix:" + server.socketPath,
                                         extraArguments: ["--batch-events", "1000", "--batch-milliseconds", "50", "--max-in-flight-batches", "4", "--max-backoff-milliseconds", "200"])
        let service = SidecarService(socketPath: sidecar.socketPath)
        let clock = ContinuousClock()
        let now = Int64(Date().timeIntervalSince1970 * 1000)

        // Phase A, meterd down: 20% of the events, the first 1000 without ids (the sidecar assigns them).
        let phaseA = total / 5
        let withoutIds = min(1000, phaseA)
        let startA = clock.now
        for start in stride(from: 0, to: phaseA, by: perRequest) {
            let events = (start..<min(start + perRequest, phaseA)).map { Self.event($0 < withoutIds ? "" : "e\($0)", customer: "c\($0 % 7)", at: now) }
            try await service.send(events)
        }
        let spoolSeconds = (clock.now - startA).seconds
        var status = try await service.health()
        XCTAssertEqual(status["spool_events"], String(phaseA))
        XCTAssertEqual(status["upstream"], "disconnected")
        XCTAssertNotEqual(status["oldest_unsent_ms"], "0")

        // meterd starts: the backlog drains.
        let startDrain = clock.now
        try server.restart()
        status = try await service.waitForStatus("the backlog to drain") { $0["spool_events"] == "0" }
        let drainSeconds = (clock.now - startDrain).seconds
        let counted1 = try await usage(server)
        XCTAssertEqual(counted1, String(phaseA))

        // Phases B and C: 4 pipelined senders; meterd is SIGKILLed (and restarted) at 40%,
        // the sidecar at 70%, each from the sender whose acknowledgement crosses the mark.
        let killMeterdAt = total * 2 / 5
        let killSidecarAt = total * 7 / 10
        let shared = SharedFlags()
        let requests = Array(stride(from: phaseA, to: total, by: perRequest))
        // Only the one sender that crosses a mark touches these (guarded by the exchanges below).
        nonisolated(unsafe) let meterd = server
        nonisolated(unsafe) let sidecarProcess = sidecar
        let startRest = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<senders {
                group.addTask {
                    while true {
                        let index = shared.next.add(1, ordering: .relaxed).oldValue
                        guard index < requests.count else { return }
                        let start = requests[index]
                        let events = (start..<min(start + perRequest, total)).map { Self.event("e\($0)", customer: "c\($0 % 7)", at: now) }
                        try await service.send(events)
                        let acknowledged = service.acknowledged.load(ordering: .relaxed)
                        if acknowledged >= killMeterdAt, !shared.killedMeterd.exchange(true, ordering: .relaxed) {
                            meterd.child.signal(SIGKILL)
                            meterd.child.wait()
                            do { try meterd.restart() } catch { shared.restartError.withLock { $0 = "meterd: \(error)" } }
                        }
                        if acknowledged >= killSidecarAt, !shared.killedSidecar.exchange(true, ordering: .relaxed) {
                            sidecarProcess.kill()
                            do {
                                try sidecarProcess.restart()
                                print("  sidecar restarted after SIGKILL: \(sidecarProcess.startLine)")
                            } catch {
                                shared.restartError.withLock { $0 = "sidecar: \(error)" }
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        XCTAssertNil(shared.restartError.withLock { $0 })
        XCTAssertTrue(shared.killedMeterd.load(ordering: .relaxed))
        XCTAssertTrue(shared.killedSidecar.load(ordering: .relaxed))
        let acknowledged = service.acknowledged.load(ordering: .relaxed)
        XCTAssertEqual(acknowledged, total)
        status = try await service.waitForStatus("the spool to drain") { $0["spool_events"] == "0" }
        let restSeconds = (clock.now - startRest).seconds
        let counted2 = try await usage(server)
        XCTAssertEqual(counted2, String(acknowledged), "meterd counts exactly what the sidecar acknowledged, once")
        XCTAssertEqual(status["dead_letters"], "0")
        print("  final sidecar status (since its restart): \(status.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")

        let fmt = { (value: Double) in String(format: "%.0f", value) }
        print("sidecar e2e (binaries in \(ChildProcess.binaryDirectory.path), \(total) events, \(perRequest) per request, --batch-events 1000 --batch-milliseconds 50 --max-in-flight-batches 4):")
        print("  into the sidecar with meterd down: \(phaseA) events in \(String(format: "%.2f", spoolSeconds)) s = \(fmt(Double(phaseA) / spoolSeconds)) events/s")
        print("  backlog forwarded after meterd starts: \(phaseA) events in \(String(format: "%.2f", drainSeconds)) s = \(fmt(Double(phaseA) / drainSeconds)) events/s")
        print("  end to end with 4 senders, a meterd SIGKILL and a sidecar SIGKILL: \(total - phaseA) events in \(String(format: "%.2f", restSeconds)) s = \(fmt(Double(total - phaseA) / restSeconds)) events/s")

        await service.close()
        let stopped = sidecar.stop()
        XCTAssertEqual(stopped.status, 0)
        XCTAssertTrue(stopped.lastLine.contains("spool drained"), stopped.lastLine)
        XCTAssertEqual(server.stop(), 0)
    }

    func testRejectedEventsGoToTheDeadLetterFileAndTheOthersAreDelivered() async throws {
        let server = try await meterdWithMeter()
        try server.restart()
        let sidecar = try SidecarProcess(self, upstream: "unix:" + server.socketPath)
        let service = SidecarService(socketPath: sidecar.socketPath)
        var events = (0..<10).map { Self.event("ok-\($0)") }
        events.insert(Self.event("too-old", at: 1_000), at: 3)
        var badName = Self.event("bad-name")
        badName.eventName = "Not A Name"
        events.append(badName)
        try await service.send(events)
        let status = try await service.waitForStatus("delivery") { $0["spool_events"] == "0" }
        XCTAssertEqual(status["dead_letters"], "2")
        let counted3 = try await usage(server)
        XCTAssertEqual(counted3, "10")

        let lines = try String(contentsOfFile: sidecar.deadLetterPath, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let objects = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let byId = Dictionary(uniqueKeysWithValues: objects.map { (($0["event"] as! [String: Any])["event_id"] as! String, $0) })
        XCTAssertEqual(byId["too-old"]?["reason"] as? String, "TIMESTAMP_TOO_OLD")
        XCTAssertEqual(byId["bad-name"]?["reason"] as? String, "INVALID_EVENT_NAME")
        XCTAssertFalse((byId["too-old"]?["message"] as? String ?? "").isEmpty)

        await service.close()
        XCTAssertEqual(sidecar.stop().status, 0)
        XCTAssertEqual(server.stop(), 0)
    }

    func testSigtermSendsWhatItCanAndKeepsTheRestForTheNextStart() async throws {
        let server = try await meterdWithMeter()
        // meterd down: SIGTERM cannot forward anything within its 1 s and keeps the events.
        let sidecar = try SidecarProcess(self, upstream: "unix:" + server.socketPath,
                                         extraArguments: ["--shutdown-timeout-seconds", "1", "--max-backoff-milliseconds", "100", "--batch-milliseconds", "60000"])
        let service = SidecarService(socketPath: sidecar.socketPath)
        try await service.send((0..<2000).map { Self.event("kept-\($0)") })
        await service.close()
        let kept = sidecar.stop()
        XCTAssertEqual(kept.status, 0)
        XCTAssertTrue(kept.lastLine.contains("2000 events kept in the spool"), kept.lastLine)

        // meterd up, batch window of a minute: the restarted sidecar recovers the 2000, takes 300
        // more, and SIGTERM flushes all of them at once instead of waiting for the window.
        try server.restart()
        try sidecar.restart()
        XCTAssertTrue(sidecar.startLine.contains("2000 unsent events recovered"), sidecar.startLine)
        let again = SidecarService(socketPath: sidecar.socketPath)
        try await again.send((0..<300).map { Self.event("late-\($0)") })
        await again.close()
        let drained = sidecar.stop()
        XCTAssertEqual(drained.status, 0)
        XCTAssertTrue(drained.lastLine.contains("spool drained"), drained.lastLine)
        let counted = try await usage(server)
        XCTAssertEqual(counted, "2300")
        XCTAssertEqual(server.stop(), 0)
    }

    func testAFullSpoolAnswersResourceExhaustedUntilMeterdDrainsIt() async throws {
        let server = try await meterdWithMeter()
        let sidecar = try SidecarProcess(self, upstream: "unix:" + server.socketPath,
                                         extraArguments: ["--max-spool-bytes", "16384", "--max-backoff-milliseconds", "200"])
        let service = SidecarService(socketPath: sidecar.socketPath)
        var acknowledged = 0
        var refusal: MeterClientError?
        for request in 0..<1000 {
            let events = (0..<10).map { Self.event("full-\(request)-\($0)") }
            do throws(MeterClientError) {
                _ = try await service.sendOnce(events)
                acknowledged += events.count
            } catch {
                refusal = error
                break
            }
        }
        XCTAssertEqual(refusal?.code, .resourceExhausted, "\(String(describing: refusal))")
        XCTAssertGreaterThan(acknowledged, 0)
        let full = try await service.health()
        XCTAssertEqual(full["spool_events"], String(acknowledged))
        XCTAssertLessThanOrEqual(Int(full["spool_bytes"] ?? "") ?? .max, 16384)

        try server.restart()
        // Accepted again once meterd drained the spool: poll with a real request.
        let retryEvents = (0..<10).map { Self.event("after-\($0)") }
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do throws(MeterClientError) {
                _ = try await service.sendOnce(retryEvents)
                acknowledged += retryEvents.count
                break
            } catch {
                XCTAssertEqual(error.code, .resourceExhausted)
                guard ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        _ = try await service.waitForStatus("delivery") { $0["spool_events"] == "0" }
        let counted4 = try await usage(server)
        XCTAssertEqual(counted4, String(acknowledged))

        await service.close()
        XCTAssertEqual(sidecar.stop().status, 0)
        XCTAssertEqual(server.stop(), 0)
    }
}

/// State the pipelined senders share.
final class SharedFlags: Sendable {
    let next = Atomic<Int>(0)
    let killedMeterd = Atomic<Bool>(false)
    let killedSidecar = Atomic<Bool>(false)
    let restartError = Mutex<String?>(nil)
}

private extension Duration {
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}
