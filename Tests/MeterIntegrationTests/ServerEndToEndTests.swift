import Foundation
import MeterProto
import MeterWire
import MeterTestSupport
import XCTest

/// A real meterd process driven over real sockets.
final class ServerEndToEndTests: XCTestCase {
    static func guideMeter() -> Meterd_V1_CreateMeterRequest {
        var request = Meterd_V1_CreateMeterRequest()
        request.definition.eventName = "tokens_used"
        request.definition.displayName = "Tokens Used"
        var filter = Meterd_V1_MeterFilter()
        filter.key = "model"
        filter.values = ["llama3.1", "llama3.2"]
        request.definition.filters = [filter]
        request.definition.aggregation = .sum
        request.definition.field = "tokens"
        request.definition.reset = .periodic
        request.definition.billingPeriod = .monthly
        return request
    }

    static func event(_ id: String, customer: String = "acme", model: String = "llama3.1", tokens: String, at: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> Meterd_V1_Event {
        var event = Meterd_V1_Event()
        event.eventID = id
        event.eventName = "tokens_used"
        event.customerID = customer
        event.timestampMs = at
        var modelProperty = Meterd_V1_Property()
        modelProperty.key = "model"
        modelProperty.value.stringValue = model
        var tokensProperty = Meterd_V1_Property()
        tokensProperty.key = "tokens"
        tokensProperty.value.decimalValue = tokens
        event.properties = [modelProperty, tokensProperty]
        return event
    }

    static func currentUsage(_ client: RawWireClient, customer: String) throws -> String {
        var request = Meterd_V1_CurrentUsageRequest()
        request.meter.eventName = "tokens_used"
        request.customerID = customer
        return try client.call(.currentUsage, request, as: Meterd_V1_CurrentUsageResponse.self).get().row.value
    }

    func testTheGuideExampleOverBothTransports() throws {
        let server = try ServerProcess(self)
        defer { XCTAssertEqual(server.stop(), 0) }
        let unix = try RawWireClient(.unix(server.socketPath))
        let acknowledgement = try unix.handshake()
        XCTAssertEqual(acknowledgement.maxBatchEvents, 10_000)
        let meter = try unix.call(.createMeter, Self.guideMeter(), as: Meterd_V1_CreateMeterResponse.self).get().meter
        XCTAssertTrue(meter.id.hasPrefix("mtr_"))
        let duplicate = try unix.call(.createMeter, Self.guideMeter(), as: Meterd_V1_CreateMeterResponse.self)
        guard case .failure(let detail) = duplicate else { return XCTFail("a second meter with the same event name was created") }
        XCTAssertEqual(detail.code, UInt32(StatusCode.alreadyExists.rawValue))
        XCTAssertEqual(detail.reason, "METER_ALREADY_EXISTS")

        let tcp = try RawWireClient(.tcp(port: server.tcpPort))
        try tcp.handshake(credential: server.bootstrapKey)
        var batch = Meterd_V1_IngestBatchRequest()
        batch.events = [
            Self.event("e1", tokens: "1250"), Self.event("e2", model: "llama3.2", tokens: "25.5"),
            Self.event("e3", model: "alpaca2.0", tokens: "1000"), Self.event("e1", tokens: "1250"),
            Self.event("", tokens: "1"), Self.event("e4", tokens: "not-a-number"),
        ]
        let results = try tcp.call(.ingestBatch, batch, as: Meterd_V1_IngestBatchResponse.self).get()
        XCTAssertEqual(results.results.map(\.status), [.accepted, .accepted, .accepted, .duplicate, .rejected, .rejected])
        XCTAssertEqual(results.results.map(\.outcome).prefix(3), [.counted, .counted, .filteredOut])
        XCTAssertEqual(results.results[4].reason, "INVALID_EVENT_ID")
        XCTAssertEqual(results.results[5].reason, "INVALID_PROPERTY")
        XCTAssertEqual([results.accepted, results.duplicates, results.rejected], [3, 1, 2])
        XCTAssertEqual(try Self.currentUsage(unix, customer: "acme"), "1275.5")

        var update = Meterd_V1_UpdateMeterRequest()
        update.meter.id = meter.id
        update.immutableChanges.filters = [Meterd_V1_MeterFilter()]
        guard case .failure(let immutable) = try unix.call(.updateMeter, update, as: Meterd_V1_UpdateMeterResponse.self) else {
            return XCTFail("filters were changed")
        }
        XCTAssertEqual(immutable.code, UInt32(StatusCode.failedPrecondition.rawValue))
        XCTAssertTrue(immutable.message.contains("immutable"), immutable.message)

        var query = Meterd_V1_QueryUsageRequest()
        query.meter.id = meter.id
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        query.fromMs = (now / 3_600_000 - 1) * 3_600_000
        query.toMs = (now / 3_600_000 + 1) * 3_600_000
        query.windowSize = .hour
        query.groupByCustomer = true
        let rows = try tcp.call(.queryUsage, query, as: Meterd_V1_QueryUsageResponse.self).get().rows
        XCTAssertEqual(rows.map(\.value), ["0", "1275.5"])
        XCTAssertEqual(rows.map(\.customerID), ["acme", "acme"])

        let health = try unix.call(.healthCheck, Meterd_V1_HealthCheckRequest(), as: Meterd_V1_HealthCheckResponse.self).get()
        XCTAssertEqual(health.status, .serving)
        let info = try unix.call(.serverInfo, Meterd_V1_ServerInfoRequest(), as: Meterd_V1_ServerInfoResponse.self).get()
        XCTAssertEqual(info.durability, "fsync")
        XCTAssertGreaterThan(info.lastAppliedSequence, 1)

        // Tenants do not see each other.
        let other = try RawWireClient(.unix(server.socketPath))
        try other.handshake(tenant: "globex")
        var get = Meterd_V1_GetMeterRequest()
        get.meter.id = meter.id
        guard case .failure(let notFound) = try other.call(.getMeter, get, as: Meterd_V1_GetMeterResponse.self) else {
            return XCTFail("another tenant saw the meter")
        }
        XCTAssertEqual(notFound.code, UInt32(StatusCode.notFound.rawValue))
    }

    func testTheSnapshotLogGrowthSettingIsCheckedAndAccepted() throws {
        let directory = try TemporaryDirectory("meterd-growth", removedBy: addTeardownBlock).file("data")
        let refused = try ChildProcess("meterd", ["--data-dir", directory, "--no-tcp", "--socket", directory + ".sock", "--snapshot-log-growth-percent=-5"])
        let exit = refused.wait()
        XCTAssertNotEqual(exit.status, 0)
        XCTAssertTrue(exit.errorOutput.contains("snapshot-log-growth-percent must be 0 or more, got -5"), exit.errorOutput)
        let server = try ServerProcess(self, arguments: ["--snapshot-log-growth-percent", "0"])
        let client = try RawWireClient(.unix(server.socketPath))
        try client.handshake()
        XCTAssertEqual(server.stop(), 0)
    }

    func testTheSocketFileIsPrivateAndAStaleOneIsReplaced() throws {
        let server = try ServerProcess(self)
        var status = stat()
        XCTAssertEqual(lstat(server.socketPath, &status), 0)
        XCTAssertEqual(status.st_mode & 0o777, 0o600)
        // A second server on the same live socket refuses to start.
        let second = try ChildProcess("meterd", ["--data-dir", server.directory + "/other", "--socket", server.socketPath, "--no-tcp"])
        let exit = second.wait()
        XCTAssertNotEqual(exit.status, 0)
        XCTAssertTrue(exit.errorOutput.contains("another server is listening"), exit.errorOutput)
        // After a SIGKILL the socket file stays behind; the next start replaces it.
        server.child.signal(SIGKILL)
        server.child.wait()
        XCTAssertEqual(lstat(server.socketPath, &status), 0)
        try server.restart()
        let client = try RawWireClient(.unix(server.socketPath))
        try client.handshake()
        XCTAssertEqual(server.stop(), 0)
    }

    func testSigtermMidLoadKeepsEveryAcknowledgedEvent() throws {
        let server = try ServerProcess(self)
        let client = try RawWireClient(.unix(server.socketPath))
        try client.handshake()
        _ = try client.call(.createMeter, Self.guideMeter(), as: Meterd_V1_CreateMeterResponse.self).get()
        // A second connection keeps a load of pipelined batches going while SIGTERM arrives.
        let loader = try RawWireClient(.unix(server.socketPath))
        try loader.handshake()
        var acknowledged: Set<String> = []
        var sent: [String] = []
        var stream: UInt32 = 1
        var outstanding: [UInt32: [String]] = [:]
        var terminated = false
        func sendBatch() throws {
            var batch = Meterd_V1_IngestBatchRequest()
            batch.events = (0..<50).map { index in Self.event("s\(stream)-\(index)", customer: "load", tokens: "1") }
            sent += batch.events.map(\.eventID)
            outstanding[stream] = batch.events.map(\.eventID)
            try loader.send(WireFrame(type: .request, code: MethodID.ingestBatch.rawValue, streamId: stream, payload: try ProtobufPayload.encode(batch)))
            stream += 2
        }
        for _ in 0..<8 { try sendBatch() }
        while let frame = try loader.readFrame() {
            guard frame.type == .response else { continue }
            let ids = outstanding.removeValue(forKey: frame.streamId) ?? []
            if frame.code == 0 {
                let response = try ProtobufPayload.decode(Meterd_V1_IngestBatchResponse.self, from: frame.payload)
                for (id, result) in zip(ids, response.results) where result.status == .accepted { acknowledged.insert(id) }
            }
            if acknowledged.count >= 2000 && !terminated {
                server.child.signal(SIGTERM)
                terminated = true
            }
            if !terminated { try? sendBatch() }
        }
        XCTAssertTrue(terminated)
        XCTAssertEqual(server.child.wait().status, 0, "meterd must exit 0 on SIGTERM")

        try server.restart()
        defer { XCTAssertEqual(server.stop(), 0) }
        let after = try RawWireClient(.unix(server.socketPath))
        try after.handshake()
        XCTAssertGreaterThanOrEqual(Double(try Self.currentUsage(after, customer: "load"))!, Double(acknowledged.count))
        // Resending everything: every acknowledged event is a duplicate.
        for chunk in stride(from: 0, to: sent.count, by: 1000) {
            var batch = Meterd_V1_IngestBatchRequest()
            batch.events = sent[chunk..<min(sent.count, chunk + 1000)].map { Self.event($0, customer: "load", tokens: "1") }
            let results = try after.call(.ingestBatch, batch, as: Meterd_V1_IngestBatchResponse.self).get().results
            for (event, result) in zip(batch.events, results) where acknowledged.contains(event.eventID) {
                XCTAssertEqual(result.status, .duplicate, "acknowledged \(event.eventID) was lost")
            }
        }
        XCTAssertEqual(try Self.currentUsage(after, customer: "load"), String(sent.count))
    }
}
