import Foundation
import Synchronization
import MeterClient
import MeterProto
import MeterTestSupport
import MeterWire
import XCTest
@testable import MeterSidecar

final class SidecarTests: XCTestCase {
    private func temporaryDirectory() throws -> String {
        try TemporaryDirectory("sidecar-test", removedBy: { addTeardownBlock($0) }).path
    }

    private func events(_ count: Int, prefix: String) -> [Meterd_V1_Event] {
        (0..<count).map { index in
            var event = Meterd_V1_Event()
            event.eventID = "\(prefix)-\(index)"
            event.eventName = "api_call"
            event.customerID = "acme"
            event.timestampMs = 1_700_000_000_000
            return event
        }
    }

    func testSpoolRecoversWhatIsAfterTheCheckpointAndTrimsWholeSegments() async throws {
        let directory = try temporaryDirectory() + "/spool"
        do {
            let (spool, unsent, forwarded, _) = try Spool.open(directory: directory, maximumBytes: 32_768)
            XCTAssertTrue(unsent.isEmpty)
            XCTAssertEqual(forwarded, 0)
            let durable = Mutex<[UInt64]>([])
            spool.start { entries in durable.withLock { $0.append(contentsOf: entries.map(\.sequence)) } }
            for batch in 0..<40 {
                let sequence = try await spool.append(events: events(10, prefix: "b\(batch)"), acceptedAtMilliseconds: 1000 + Int64(batch))
                XCTAssertEqual(sequence, UInt64(batch + 1))
            }
            XCTAssertEqual(durable.withLock { $0 }, Array(1...40))
            let before = spool.numbers.diskBytes
            try spool.checkpoint.write(30)
            try spool.trim(through: 30)
            XCTAssertLessThan(spool.numbers.diskBytes, before, "segments wholly below the forwarded position are deleted")
            spool.stop()
        }
        let (spool, unsent, forwarded, _) = try Spool.open(directory: directory, maximumBytes: 32_768)
        defer { spool.stop() }
        XCTAssertEqual(forwarded, 30)
        XCTAssertEqual(unsent.map(\.sequence), Array(31...40))
        XCTAssertEqual(unsent.first?.events.map(\.eventID).first, "b30-0")
        XCTAssertEqual(unsent.first?.acceptedAtMilliseconds, 1030)
    }

    func testSpoolRefusesWhenFullAndRequestsThatCanNeverFit() async throws {
        let directory = try temporaryDirectory() + "/spool"
        let (spool, _, _, _) = try Spool.open(directory: directory, maximumBytes: 16_384)
        defer { spool.stop() }
        spool.start { _ in }
        var accepted = 0
        var refusal: SpoolError?
        for batch in 0..<100 {
            do throws(SpoolError) {
                _ = try await spool.append(events: events(10, prefix: "f\(batch)"), acceptedAtMilliseconds: 0)
                accepted += 1
            } catch {
                refusal = error
                break
            }
        }
        guard case .full = refusal else { return XCTFail("expected a full spool, got \(String(describing: refusal))") }
        XCTAssertGreaterThan(accepted, 5)
        XCTAssertLessThanOrEqual(spool.numbers.diskBytes, 16_384)
        do throws(SpoolError) {
            _ = try await spool.append(events: events(200, prefix: "huge"), acceptedAtMilliseconds: 0)
            XCTFail("a request larger than a quarter of the spool was accepted")
        } catch {
            guard case .tooLarge = error else { return XCTFail("expected tooLarge, got \(error)") }
        }
    }

    func testCheckpointIsReplacedAtomically() throws {
        let directory = try temporaryDirectory()
        let checkpoint = Checkpoint(path: directory + "/forwarded-through")
        XCTAssertEqual(try checkpoint.read(), 0)
        try checkpoint.write(42)
        try checkpoint.write(43)
        XCTAssertEqual(try checkpoint.read(), 43)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/forwarded-through.tmp"))
    }

    func testBackoffGrowsWithJitterAndIsCapped() {
        let backoff = Backoff(initial: .milliseconds(50), maximum: .seconds(2))
        XCTAssertEqual(backoff.delay(attempt: 0, random: 1), .milliseconds(50))
        XCTAssertEqual(backoff.delay(attempt: 0, random: 0), .milliseconds(25))
        XCTAssertEqual(backoff.delay(attempt: 3, random: 1), .milliseconds(400))
        XCTAssertEqual(backoff.delay(attempt: 40, random: 1), .seconds(2))
        XCTAssertEqual(backoff.delay(attempt: 40, random: 0), .seconds(1))
    }

    func testStatusSummaryParses() {
        let status = SidecarStatus(spoolEvents: 3, spoolBytes: 100, oldestUnsentMilliseconds: 7, batchesSent: 2, retries: 1, deadLetters: 4,
                                   eventsForwarded: 9, forwardedThrough: 5, lastSpooled: 6, upstreamConnected: false, spoolFailure: nil, lastError: "")
        let pairs = SidecarStatus.pairs(status.summary)
        XCTAssertEqual(pairs["spool_events"], "3")
        XCTAssertEqual(pairs["dead_letters"], "4")
        XCTAssertEqual(pairs["oldest_unsent_ms"], "7")
        XCTAssertEqual(pairs["upstream"], "disconnected")
    }

    /// The sidecar in process, with meterd absent: acknowledges after the spool write, assigns
    /// ids, reports its depth, answers other methods UNIMPLEMENTED, and keeps the events over a
    /// shutdown that cannot forward them.
    func testInProcessSidecarSpoolsWhileMeterdIsAbsent() async throws {
        let directory = try temporaryDirectory()
        var configuration = SidecarConfiguration(listenPath: directory + "/sidecar.sock", upstream: .unixSocket(path: directory + "/absent.sock"), spoolDirectory: directory + "/spool")
        configuration.shutdownTimeout = .milliseconds(200)
        configuration.forwarder.maximumBackoff = .milliseconds(100)
        do {
            let sidecar = try Sidecar(configuration: configuration)
            try await sidecar.start()
            let client = try await MeterClient.connect(to: .unixSocket(path: configuration.listenPath))
            var withoutIds = events(5, prefix: "x")
            for index in withoutIds.indices { withoutIds[index].eventID = "" }
            let response = try await client.ingestBatch(events(20, prefix: "a") + withoutIds)
            XCTAssertEqual(response.accepted, 25)
            let single = try await client.ingest(events(1, prefix: "single")[0])
            XCTAssertEqual(single.status, .accepted)
            let health = try await client.healthCheck()
            XCTAssertEqual(health.status, .serving)
            let pairs = SidecarStatus.pairs(health.message)
            XCTAssertEqual(pairs["spool_events"], "26", health.message)
            XCTAssertEqual(pairs["upstream"], "disconnected")
            let info = try await client.serverInfo()
            XCTAssertEqual(info.lastAppliedSequence, 2)
            do {
                _ = try await client.listMeters()
                XCTFail("the sidecar answered an admin call")
            } catch {
                XCTAssertEqual(error.code, .unimplemented)
            }
            await client.close()
            let summary = await sidecar.shutdown()
            XCTAssertFalse(summary.drained)
            XCTAssertEqual(summary.unsentEvents, 26)
        }
        let reopened = try Sidecar(configuration: configuration)
        XCTAssertEqual(reopened.recoveredEvents, 26)
        let unsent = reopened.forwarder.numbers.unsentEvents
        XCTAssertEqual(unsent, 26)
        _ = await reopened.shutdown()
    }
}
