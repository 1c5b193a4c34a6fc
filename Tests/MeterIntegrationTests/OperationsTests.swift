import Foundation
import MeterProto
import MeterWire
import MeterTestSupport
import XCTest

/// meterd's operations surface with a real process: Prometheus metrics over a real HTTP socket,
/// JSON log lines, and the ServiceGroup's graceful shutdown on SIGTERM.
final class OperationsTests: XCTestCase {
    /// Ingests known numbers of accepted, duplicate and rejected events (two tenants), then
    /// reads /metrics and checks every counter, the request histogram and the connection gauge.
    func testMetricsEndpointCountsEveryEventResultByTenantAndReason() throws {
        let meterd = try OperationsProcess(self, arguments: ["--metrics", "127.0.0.1:0"])
        defer { XCTAssertEqual(meterd.stop(), 0) }
        let metricsPort = try XCTUnwrap(meterd.metricsPort, "no 'meterd: metrics on' line")

        let client = try RawWireClient(.unix(meterd.socketPath))
        try client.handshake()
        _ = try client.call(.createMeter, ServerEndToEndTests.guideMeter(), as: Meterd_V1_CreateMeterResponse.self).get()
        // 5 new events, then 3 of them again (duplicates), 2 with an invalid customer id and 1
        // far too old: 5 accepted, 3 duplicates, 2 INVALID_CUSTOMER_ID, 1 TIMESTAMP_TOO_OLD.
        var first = Meterd_V1_IngestBatchRequest()
        first.events = (0..<5).map { ServerEndToEndTests.event("metrics-\($0)", tokens: "1") }
        let firstResults = try client.call(.ingestBatch, first, as: Meterd_V1_IngestBatchResponse.self).get().results
        XCTAssertEqual(firstResults.map(\.status), Array(repeating: .accepted, count: 5))
        var second = Meterd_V1_IngestBatchRequest()
        second.events = (0..<3).map { ServerEndToEndTests.event("metrics-\($0)", tokens: "1") }
            + [ServerEndToEndTests.event("metrics-bad-1", customer: "", tokens: "1"),
               ServerEndToEndTests.event("metrics-bad-2", customer: "", tokens: "1"),
               ServerEndToEndTests.event("metrics-old", tokens: "1", at: 1_000)]
        let secondResults = try client.call(.ingestBatch, second, as: Meterd_V1_IngestBatchResponse.self).get().results
        XCTAssertEqual(secondResults.map(\.status), [.duplicate, .duplicate, .duplicate, .rejected, .rejected, .rejected])

        // Another tenant's events are counted under its own label.
        let other = try RawWireClient(.unix(meterd.socketPath))
        try other.handshake(tenant: "globex")
        _ = try other.call(.createMeter, ServerEndToEndTests.guideMeter(), as: Meterd_V1_CreateMeterResponse.self).get()
        var third = Meterd_V1_IngestBatchRequest()
        third.events = (0..<2).map { ServerEndToEndTests.event("globex-\($0)", tokens: "1") }
        _ = try other.call(.ingestBatch, third, as: Meterd_V1_IngestBatchResponse.self).get()

        let scrape = try Self.httpGet(port: metricsPort, path: "/metrics")
        XCTAssertTrue(scrape.head.hasPrefix("HTTP/1.1 200"), scrape.head)
        XCTAssertTrue(scrape.head.lowercased().contains("content-type: text/plain; version=0.0.4"), scrape.head)
        let samples = PrometheusSamples(scrape.body)
        XCTAssertEqual(samples["meterd_events_accepted_total{tenant=\"default\"}"], 5, scrape.body)
        XCTAssertEqual(samples["meterd_events_duplicate_total{tenant=\"default\"}"], 3, scrape.body)
        XCTAssertEqual(samples["meterd_events_rejected_total{tenant=\"default\",reason=\"INVALID_CUSTOMER_ID\"}"], 2, scrape.body)
        XCTAssertEqual(samples["meterd_events_rejected_total{tenant=\"default\",reason=\"TIMESTAMP_TOO_OLD\"}"], 1, scrape.body)
        XCTAssertEqual(samples["meterd_events_accepted_total{tenant=\"globex\"}"], 2, scrape.body)
        XCTAssertNil(samples["meterd_events_duplicate_total{tenant=\"globex\"}"], scrape.body)
        XCTAssertEqual(samples["meterd_request_duration_seconds_count{method=\"Ingest/IngestBatch\"}"], 3, scrape.body)
        XCTAssertEqual(samples["meterd_requests_total{method=\"Ingest/IngestBatch\",status=\"OK\"}"], 3, scrape.body)
        XCTAssertEqual(samples["meterd_requests_total{method=\"Admin/CreateMeter\",status=\"OK\"}"], 2, scrape.body)
        XCTAssertEqual(samples["meterd_open_connections"], 2, scrape.body)
        // Read from the engine's status at scrape time: the new data directory's bootstrap key,
        // 2 meters and 3 groups of events were committed (7 accepted events), all applied.
        XCTAssertEqual(samples["meterd_group_commit_events_total"], 7, scrape.body)
        XCTAssertGreaterThanOrEqual(samples["meterd_group_commits_total"] ?? 0, 3, scrape.body)
        XCTAssertEqual(samples["meterd_last_applied_sequence"], 6, scrape.body)
        XCTAssertEqual(samples["meterd_engine_failed"], 0, scrape.body)
        XCTAssertEqual(samples["meterd_writer_queue_events"], 0, scrape.body)
        // The exactly-once index remembers the 7 accepted ids (both tenants) under the default cap.
        XCTAssertEqual(samples["meterd_dedup_index_entries"], 7, scrape.body)
        XCTAssertEqual(samples["meterd_dedup_index_max_entries"], 50_000_000, scrape.body)
        XCTAssertGreaterThan(samples["meterd_dedup_index_bytes"] ?? 0, 0, scrape.body)

        // Closing a connection brings the gauge down (polled: the close is seen asynchronously).
        Glibc.shutdown(other.descriptor, Int32(SHUT_RDWR))
        let deadline = Date().addingTimeInterval(10)
        var open = samples["meterd_open_connections"]
        while open != 1 && Date() < deadline {
            open = PrometheusSamples(try Self.httpGet(port: metricsPort, path: "/metrics").body)["meterd_open_connections"]
        }
        XCTAssertEqual(open, 1)
        XCTAssertTrue(try Self.httpGet(port: metricsPort, path: "/nothing-here").head.hasPrefix("HTTP/1.1 404"))
    }

    /// --log-format json: every line on standard error is one JSON object with timestamp,
    /// level and message; start, recovery, the shutdown steps are there with their metadata.
    func testJSONLogFormatWritesOneObjectPerLineWithLevelAndMessage() throws {
        let meterd = try OperationsProcess(self, arguments: ["--log-format", "json", "--log-level", "debug"])
        let exit = meterd.stopCollectingErrors()
        XCTAssertEqual(exit.status, 0, exit.errorOutput)
        let lines = exit.errorOutput.split(separator: "\n").map(String.init)
        XCTAssertFalse(lines.isEmpty)
        var messages: [String: [String: Any]] = [:]
        for line in lines {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
            XCTAssertNotNil(object["timestamp"] as? String, line)
            let level = try XCTUnwrap(object["level"] as? String, line)
            XCTAssertTrue(["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(level), line)
            let message = try XCTUnwrap(object["message"] as? String, line)
            messages[message] = object
        }
        XCTAssertEqual(messages["recovered"]?["replayed_records"] as? String, "0", "\(lines)")
        XCTAssertEqual(messages["started"]?["durability"] as? String, "fsync", "\(lines)")
        XCTAssertEqual(messages["started"]?["listening"] as? [String], ["unix:\(meterd.socketPath)", "tcp:127.0.0.1:\(meterd.tcpPort)"], "\(lines)")
        XCTAssertNotNil(messages["engine stopped"], "\(lines)")
        XCTAssertNotNil(messages["stopped"], "\(lines)")
        // The start-up lines scripts read stay plain text on standard output.
        XCTAssertTrue(meterd.startLines.contains { $0.hasPrefix("meterd: listening on unix:") }, "\(meterd.startLines)")
    }

    /// Text is the default; --log-level warning leaves out the info lines.
    func testLogLevelSettingFiltersLines() throws {
        let meterd = try OperationsProcess(self, arguments: ["--log-level", "warning"])
        let exit = meterd.stopCollectingErrors()
        XCTAssertEqual(exit.status, 0, exit.errorOutput)
        XCTAssertFalse(exit.errorOutput.contains(" info "), exit.errorOutput)

        let verbose = try OperationsProcess(self, arguments: [])
        let verboseExit = verbose.stopCollectingErrors()
        XCTAssertEqual(verboseExit.status, 0)
        let started = try XCTUnwrap(verboseExit.errorOutput.split(separator: "\n").first { $0.contains(" info meterd: started ") }, verboseExit.errorOutput)
        XCTAssertTrue(started.contains("durability=fsync"), String(started))
    }

    /// A bad --log-format, --metrics or --max-frame-bytes value is refused before anything
    /// starts (a frame limit below the protocol's 64 KiB minimum could not carry a reply).
    func testInvalidOperationsSettingsAreRefused() throws {
        for arguments in [["--log-format", "xml"], ["--log-level", "loud"], ["--metrics", "9464"], ["--max-frame-bytes", "65535"]] {
            let child = try ChildProcess("meterd", ["--data-dir", NSTemporaryDirectory() + "/never-\(UUID().uuidString.prefix(8))", "--no-tcp", "--socket", NSTemporaryDirectory() + "/never.sock"] + arguments)
            let exit = child.wait()
            XCTAssertNotEqual(exit.status, 0, "\(arguments)")
            XCTAssertTrue(exit.errorOutput.contains(arguments[0].dropFirst(2)), exit.errorOutput)
        }
    }

    // MARK: Helpers

    /// A blocking HTTP/1.1 GET over a real TCP socket to 127.0.0.1; returns the head and body.
    static func httpGet(port: Int, path: String) throws -> (head: String, body: String) {
        try HTTPRequest.send(port: port, "GET \(path)", headers: [])
    }
}

/// Sample lines of a Prometheus text scrape, by series (`name{labels}`) as written.
struct PrometheusSamples {
    private var values: [String: Double] = [:]

    init(_ text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = value
        }
    }

    subscript(series: String) -> Double? { values[series] }
}

/// A meterd child on a temporary directory that reports its TCP port and, with --metrics,
/// its metrics port (both read from its start-up lines, in whatever order they come).
final class OperationsProcess {
    let directory: String
    let socketPath: String
    let child: ChildProcess
    private(set) var tcpPort = 0
    private(set) var metricsPort: Int?
    private(set) var startLines: [String] = []

    init(_ test: XCTestCase, arguments: [String]) throws {
        directory = try TemporaryDirectory("meterd-operations", removedBy: { test.addTeardownBlock($0) }).path
        socketPath = directory + "/meterd.sock"
        child = try ChildProcess("meterd", ["--data-dir", directory + "/data", "--socket", socketPath, "--tcp", "127.0.0.1:0"] + arguments)
        let wantsMetrics = arguments.contains("--metrics")
        while let line = child.nextLine() {
            startLines.append(line)
            if line.hasPrefix("meterd: listening on"), let range = line.range(of: "tcp:127.0.0.1:") {
                tcpPort = Int(line[range.upperBound...].prefix { $0.isNumber })!
            }
            if line.hasPrefix("meterd: metrics on http://127.0.0.1:") {
                metricsPort = Int(line.dropFirst("meterd: metrics on http://127.0.0.1:".count).prefix { $0.isNumber })
            }
            if tcpPort != 0 && (!wantsMetrics || metricsPort != nil) { return }
        }
        throw RawClientError("meterd exited before listening: \(startLines) \(child.wait().errorOutput)")
    }

    /// SIGTERM and wait; the exit status.
    func stop() -> Int32 {
        child.signal(SIGTERM)
        return child.wait().status
    }

    /// SIGTERM and wait; the exit status and everything written to standard error.
    func stopCollectingErrors() -> (status: Int32, errorOutput: String) {
        child.signal(SIGTERM)
        let exit = child.wait()
        return (exit.status, exit.errorOutput)
    }
}
