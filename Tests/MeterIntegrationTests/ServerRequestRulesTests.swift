import Foundation
import MeterProto
import MeterWire
import MeterTestSupport
import XCTest

/// Requests a real meterd must refuse before doing their work: a usage query whose answer would
/// be too large (refused from its estimated size, with no memory spike and without holding up
/// Health), and meter definitions or queries with unknown or contradictory enum values (refused
/// with INVALID_ARGUMENT naming the field instead of being silently rewritten).
final class ServerRequestRulesTests: XCTestCase {
    private static func countMeter() -> Meterd_V1_CreateMeterRequest {
        var request = Meterd_V1_CreateMeterRequest()
        request.definition.eventName = "api_calls"
        request.definition.displayName = "API Calls"
        request.definition.aggregation = .count
        request.definition.reset = .cumulative
        return request
    }

    /// Peak resident memory of a process (VmHWM), in bytes.
    private static func peakResidentBytes(_ processIdentifier: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(processIdentifier)/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
        let kilobytes = try XCTUnwrap(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
        return kilobytes * 1024
    }

    func testAQueryWhoseAnswerWouldBeTooLargeIsRefusedBeforeItsWork() throws {
        let server = try ServerProcess(self)
        defer { XCTAssertEqual(server.stop(), 0) }
        let client = try RawWireClient(.unix(server.socketPath))
        try client.handshake()
        _ = try client.call(.createMeter, Self.countMeter(), as: Meterd_V1_CreateMeterResponse.self).get()
        var batch = Meterd_V1_IngestBatchRequest()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        batch.events = (0..<100).map { number in
            var event = Meterd_V1_Event()
            event.eventID = "call-\(number)"
            event.eventName = "api_calls"
            event.customerID = "customer-\(number)"
            event.timestampMs = now
            return event
        }
        let ingested = try client.call(.ingestBatch, batch, as: Meterd_V1_IngestBatchResponse.self).get()
        XCTAssertEqual(ingested.results.count, 100)
        let peakBefore = try Self.peakResidentBytes(server.child.processIdentifier)

        // The reported defect: hourly windows over eleven years (96,432 hours) for every customer.
        // Before the bound this built a ~310 MB answer (1.9 GiB resident) for 100 customers.
        var query = Meterd_V1_QueryUsageRequest()
        query.meter.eventName = "api_calls"
        query.toMs = (now / 3_600_000 + 1) * 3_600_000
        query.fromMs = query.toMs - 96_432 * 3_600_000
        query.windowSize = .hour
        query.groupByCustomer = true
        // Several at once on one connection, with a Health behind them on another.
        let streams: [UInt32] = [101, 103, 105, 107]
        for stream in streams {
            try client.send(WireFrame(type: .request, code: MethodID.queryUsage.rawValue, streamId: stream, payload: try ProtobufPayload.encode(query)))
        }
        let health = try RawWireClient(.unix(server.socketPath))
        try health.handshake()
        let serving = try health.call(.healthCheck, Meterd_V1_HealthCheckRequest(), as: Meterd_V1_HealthCheckResponse.self).get()
        XCTAssertEqual(serving.status, .serving)
        for _ in streams {
            let reply = try XCTUnwrap(try client.readFrame())
            XCTAssertTrue(streams.contains(reply.streamId))
            XCTAssertEqual(reply.code, UInt16(StatusCode.invalidArgument.rawValue))
            let detail = try ProtobufPayload.decode(Meterd_V1_ErrorDetail.self, from: reply.payload)
            XCTAssertEqual(detail.reason, "INVALID_QUERY")
            XCTAssertTrue(detail.message.contains("100 groups x 96432 windows"), detail.message)
        }
        let growth = try Self.peakResidentBytes(server.child.processIdentifier) - peakBefore
        // Counting 100 series costs kilobytes; 32 MiB leaves room for allocator noise while the
        // unbounded query took well over a gigabyte.
        XCTAssertLessThan(growth, 32 << 20, "peak resident memory grew by \(growth) bytes")

        // The same range for one customer is answered in full: 96,432 hourly rows.
        query.groupByCustomer = false
        query.customerID = "customer-7"
        let rows = try client.call(.queryUsage, query, as: Meterd_V1_QueryUsageResponse.self).get().rows
        XCTAssertEqual(rows.count, 96_432)
        // A running total: 0 until the customer's one event, 1 in the last window.
        XCTAssertEqual(rows.first?.eventCount, 0)
        XCTAssertEqual(rows.last?.eventCount, 1)
    }

    private func createFailure(_ client: RawWireClient, _ change: (inout Meterd_V1_MeterDefinition) -> Void) throws -> Meterd_V1_ErrorDetail? {
        var request = Self.countMeter()
        change(&request.definition)
        let result = try client.call(.createMeter, request, as: Meterd_V1_CreateMeterResponse.self)
        if case .failure(let detail) = result { return detail }
        return nil
    }

    func testResetAndPeriodMustAgreeAndBeKnownValues() throws {
        let server = try ServerProcess(self)
        defer { XCTAssertEqual(server.stop(), 0) }
        let client = try RawWireClient(.unix(server.socketPath))
        try client.handshake()
        let cases: [(String, (inout Meterd_V1_MeterDefinition) -> Void, String)] = [
            ("PERIODIC with billing period 99", { $0.reset = .periodic; $0.billingPeriod = .UNRECOGNIZED(99) }, "billing_period 99"),
            ("PERIODIC without a period", { $0.reset = .periodic; $0.billingPeriod = .unspecified }, "billing_period is required"),
            ("CUMULATIVE with MONTHLY", { $0.reset = .cumulative; $0.billingPeriod = .monthly }, "billing_period must be unspecified"),
            ("CUMULATIVE with an anchor", { $0.reset = .cumulative; $0.hasAnchor_p = true; $0.anchorMs = 0 }, "anchor_ms"),
            ("reset 7", { $0.reset = .UNRECOGNIZED(7) }, "reset 7"),
            ("no reset", { $0.reset = .resetUnspecified }, "reset is required"),
        ]
        for (name, change, fragment) in cases {
            let detail = try XCTUnwrap(try createFailure(client, change), "\(name) was accepted")
            XCTAssertEqual(detail.code, UInt32(StatusCode.invalidArgument.rawValue), name)
            XCTAssertEqual(detail.reason, "INVALID_RESET", name)
            XCTAssertTrue(detail.message.contains(fragment), "\(name): \(detail.message)")
        }
        // Nothing was stored by the refusals; the valid forms are accepted and kept as sent.
        var list = Meterd_V1_ListMetersRequest()
        list.includeArchived = true
        XCTAssertEqual(try client.call(.listMeters, list, as: Meterd_V1_ListMetersResponse.self).get().meters.count, 0)
        XCTAssertNil(try createFailure(client) { $0.reset = .periodic; $0.billingPeriod = .quarterly })
        let stored = try client.call(.listMeters, list, as: Meterd_V1_ListMetersResponse.self).get().meters
        XCTAssertEqual(stored.first?.definition.billingPeriod, .quarterly)
    }

    func testAnUnknownWindowSizeIsRefusedNotReadAsOneWindow() throws {
        let server = try ServerProcess(self)
        defer { XCTAssertEqual(server.stop(), 0) }
        let client = try RawWireClient(.unix(server.socketPath))
        try client.handshake()
        _ = try client.call(.createMeter, Self.countMeter(), as: Meterd_V1_CreateMeterResponse.self).get()
        var query = Meterd_V1_QueryUsageRequest()
        query.meter.eventName = "api_calls"
        query.fromMs = 1_793_491_200_000
        query.toMs = query.fromMs + 86_400_000
        query.windowSize = .UNRECOGNIZED(99)
        let result = try client.call(.queryUsage, query, as: Meterd_V1_QueryUsageResponse.self)
        guard case .failure(let detail) = result else { return XCTFail("window_size 99 was answered") }
        XCTAssertEqual(detail.code, UInt32(StatusCode.invalidArgument.rawValue))
        XCTAssertEqual(detail.reason, "INVALID_QUERY")
        XCTAssertTrue(detail.message.contains("window_size 99"), detail.message)
        query.windowSize = .hour
        XCTAssertEqual(try client.call(.queryUsage, query, as: Meterd_V1_QueryUsageResponse.self).get().rows.count, 24)
    }
}
