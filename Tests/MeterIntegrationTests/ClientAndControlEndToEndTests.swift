import Foundation
import MeterClient
import MeterProto
import MeterWire
import MeterTestSupport
import XCTest

/// A real meterd driven through the Swift client and through the meterctl binary.
final class ClientAndControlEndToEndTests: XCTestCase {
    func testSwiftClientOverBothTransportsWithPipelinedCalls() async throws {
        let server = try ServerProcess(self)
        defer { XCTAssertEqual(server.stop(), 0) }
        let unix = try await MeterClient.connect(to: .unixSocket(path: server.socketPath))
        let tcp = try await MeterClient.connect(to: .tcp(host: "127.0.0.1", port: server.tcpPort), credential: server.bootstrapKey)
        let meter = try await unix.createMeter(ServerEndToEndTests.guideMeter().definition)
        XCTAssertEqual(meter.definition.eventName, "tokens_used")
        do {
            _ = try await tcp.createMeter(ServerEndToEndTests.guideMeter().definition)
            XCTFail("a second meter with the same event name was created")
        } catch {
            XCTAssertEqual(error.code, .alreadyExists)
            XCTAssertTrue(error.description.contains("already uses event name"), error.description)
        }
        // 40 batches in flight at once on one TCP connection; replies matched by stream id.
        let results = try await withThrowingTaskGroup(of: Meterd_V1_IngestBatchResponse.self) { group in
            for batch in 0..<40 {
                group.addTask {
                    try await tcp.ingestBatch((0..<25).map { ServerEndToEndTests.event("b\(batch)-\($0)", customer: "c\(batch % 4)", tokens: "0.1") })
                }
            }
            return try await group.reduce(into: [Meterd_V1_IngestBatchResponse]()) { $0.append($1) }
        }
        XCTAssertEqual(results.map(\.accepted).reduce(0, +), 1000)
        var total = Decimal(0)
        for customer in 0..<4 {
            let row = try await unix.currentUsage(MeterClient.reference("tokens_used"), customerId: "c\(customer)").row
            XCTAssertEqual(row.value, "25", "0.1 × 250 must be exactly 25")
            total += Decimal(string: row.value)!
        }
        XCTAssertEqual(total, 100)
        await unix.close()
        await tcp.close()
    }

    private func meterctl(_ arguments: [String], server: ServerProcess) throws -> (status: Int32, output: String, errors: String) {
        let child = try ChildProcess("meterctl", arguments + ["--socket", server.socketPath])
        let output = child.remainingLines().joined(separator: "\n")
        let exit = child.wait()
        return (exit.status, output, exit.errorOutput)
    }

    func testMeterctlWalkThrough() throws {
        let server = try ServerProcess(self)
        defer { XCTAssertEqual(server.stop(), 0) }
        let created = try meterctl(["meters", "create", "--event-name", "tokens_used", "--display-name", "Tokens Used", "--aggregation", "sum",
                                    "--field", "tokens", "--reset", "periodic", "--period", "monthly", "--filter", "model=llama3.1,llama3.2"], server: server)
        XCTAssertEqual(created.status, 0, created.errors)
        XCTAssertTrue(created.output.contains("mtr_"), created.output)
        let again = try meterctl(["meters", "create", "--event-name", "tokens_used", "--aggregation", "COUNT", "--reset", "cumulative"], server: server)
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.errors.contains("ALREADY_EXISTS"), again.errors)

        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let lines = [
            #"{"event_id": "e1", "event_name": "tokens_used", "customer_id": "acme", "timestamp": \#(now), "properties": {"model": "llama3.1", "tokens": 1250}}"#,
            #"{"event_id": "e2", "event_name": "tokens_used", "customer_id": "acme", "timestamp": \#(now), "properties": {"model": "llama3.2", "tokens": 25.5}}"#,
            #"{"event_id": "e3", "event_name": "tokens_used", "customer_id": "acme", "timestamp": \#(now), "properties": {"model": "llama3.2", "tokens": "0.000000001"}}"#,
            #"{"event_id": "e1", "event_name": "tokens_used", "customer_id": "acme", "timestamp": \#(now), "properties": {"model": "llama3.1", "tokens": 1250}}"#,
            #"{"event_id": "e4", "event_name": "tokens_used", "customer_id": "", "timestamp": \#(now), "properties": {"tokens": 1}}"#,
        ]
        let file = server.directory + "/events.ndjson"
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let ingested = try meterctl(["ingest", file], server: server)
        XCTAssertEqual(ingested.status, 0, ingested.errors)
        XCTAssertTrue(ingested.output.contains("accepted 3, duplicates 1, rejected 1"), ingested.output)

        let usage = try meterctl(["usage", "tokens_used", "--current", "--customer", "acme", "--json"], server: server)
        XCTAssertEqual(usage.status, 0, usage.errors)
        XCTAssertTrue(usage.output.contains(#""value": "1275.500000001""#), usage.output)

        let immutable = try meterctl(["meters", "update", "tokens_used", "--aggregation", "COUNT"], server: server)
        XCTAssertEqual(immutable.status, 1)
        XCTAssertTrue(immutable.errors.contains("FAILED_PRECONDITION"), immutable.errors)
        let renamed = try meterctl(["meters", "update", "tokens_used", "--display-name", "Llama tokens"], server: server)
        XCTAssertEqual(renamed.status, 0, renamed.errors)
        XCTAssertTrue(renamed.output.contains("Llama tokens"))
        let health = try meterctl(["health"], server: server)
        XCTAssertEqual(health.status, 0, health.errors)
        XCTAssertTrue(health.output.contains("SERVING"))
    }
}
