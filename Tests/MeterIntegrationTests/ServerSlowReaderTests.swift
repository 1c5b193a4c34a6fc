import Foundation
import SwiftProtobuf
import MeterProto
import MeterWire
import NIOCore
import MeterTestSupport
import XCTest

/// A client that pipelines large queries and never reads its replies must not grow a live
/// meterd's memory beyond what docs/protocol.md promises (at most `max_in_flight` replies of
/// at most the client's `max_frame_bytes`, plus the write-buffer mark), and must not slow other
/// clients down (issue 11, defect 2).
final class ServerSlowReaderTests: XCTestCase {
    private static let maximumInFlight = 4
    private static let clientMaximumFrameBytes = 1 << 20
    private static let customers = 30
    private static let hours: Int64 = 500

    /// Hourly usage of every customer over `hours` hours: customers x hours rows, about
    /// 500 KiB (well under the server's row limit and the client's max_frame_bytes).
    private static func largeQuery(now: Int64) -> Meterd_V1_QueryUsageRequest {
        var query = Meterd_V1_QueryUsageRequest()
        query.meter.eventName = "tokens_used"
        let hour: Int64 = 3_600_000
        query.toMs = (now / hour + 1) * hour
        query.fromMs = query.toMs - hours * hour
        query.windowSize = .hour
        query.groupByCustomer = true
        return query
    }

    func testAClientThatNeverReadsDoesNotGrowServerMemoryAndOthersAreStillServed() throws {
        let server = try ServerProcess(self, arguments: ["--max-in-flight", "\(Self.maximumInFlight)"])
        defer { XCTAssertEqual(server.stop(), 0) }
        let reader = try RawWireClient(.tcp(port: server.tcpPort))
        try reader.handshake(credential: server.bootstrapKey)
        _ = try reader.call(.createMeter, ServerEndToEndTests.guideMeter(), as: Meterd_V1_CreateMeterResponse.self).get()
        var batch = Meterd_V1_IngestBatchRequest()
        batch.events = (0..<Self.customers * 3).map { ServerEndToEndTests.event("slow-\($0)", customer: "customer-\($0 % Self.customers)", tokens: "5") }
        XCTAssertEqual(try reader.call(.ingestBatch, batch, as: Meterd_V1_IngestBatchResponse.self).get().accepted, UInt32(batch.events.count))

        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let query = Self.largeQuery(now: now)
        // One answer read normally, to know its size (and to warm the server's allocator).
        let sample = try reader.call(.queryUsage, query, as: Meterd_V1_QueryUsageResponse.self).get()
        let answerBytes = (try sample.serializedBytes() as [UInt8]).count
        XCTAssertEqual(sample.rows.count, Self.customers * Int(Self.hours))
        XCTAssertTrue((200 << 10)...(800 << 10) ~= answerBytes, "answer of \(answerBytes) bytes; the test needs 200-800 KiB")
        let memoryBeforeKibibytes = server.residentKibibytes

        let stuck = try RawWireClient(.tcp(port: server.tcpPort), receiveBufferBytes: 4096)
        try stuck.handshake(maximumFrameBytes: UInt32(Self.clientMaximumFrameBytes), credential: server.bootstrapKey)
        // Each round sends half the in-flight limit, then paces itself by a query of the same
        // size read normally on another connection (the engine answers reads in order, and the
        // half leaves room for one round still being encoded): a server without back-pressure
        // would accept and buffer nearly every one of these answers.
        var queryFrames = ByteBuffer()
        let rounds = 200
        let queriesPerRound = Self.maximumInFlight / 2
        var streamId: UInt32 = 1
        for _ in 0..<rounds {
            queryFrames.clear()
            for _ in 0..<queriesPerRound {
                FrameEncoder.write(WireFrame(type: .request, code: MethodID.queryUsage.rawValue, streamId: streamId,
                                             payload: try ProtobufPayload.encode(query)), to: &queryFrames)
                streamId += 2
            }
            try stuck.send(Array(queryFrames.readableBytesView))
            try reader.send(WireFrame(type: .request, code: MethodID.queryUsage.rawValue, streamId: 1, payload: try ProtobufPayload.encode(query)))
            let paced = try XCTUnwrap(try reader.readFrame(), "the reading client was disconnected")
            XCTAssertEqual(paced.payload.readableBytes, answerBytes)
        }
        let requestedKibibytes = rounds * queriesPerRound * answerBytes / 1024
        let growthKibibytes = server.residentKibibytes - memoryBeforeKibibytes
        // What docs/protocol.md promises for one connection, plus slack for the allocator and
        // the queries computed meanwhile; unbounded buffering would be `requestedKibibytes`.
        let boundKibibytes = Self.maximumInFlight * Self.clientMaximumFrameBytes / 1024 + 256 + 40 * 1024
        XCTAssertGreaterThan(requestedKibibytes, 3 * boundKibibytes, "the test must ask for far more than the bound")
        XCTAssertLessThan(growthKibibytes, boundKibibytes,
                          "server memory grew by \(growthKibibytes) KiB for \(requestedKibibytes) KiB of unread answers")

        // Others are served promptly while the stuck client stays connected.
        let other = try RawWireClient(.unix(server.socketPath), timeoutSeconds: 5)
        try other.handshake()
        let start = ContinuousClock.now
        XCTAssertEqual(try other.call(.healthCheck, Meterd_V1_HealthCheckRequest(), as: Meterd_V1_HealthCheckResponse.self).get().status, .serving)
        let elapsed = ContinuousClock.now - start
        XCTAssertLessThan(elapsed, .seconds(2), "Health.Check took \(elapsed) beside the stuck client")

        // The stuck client's first answer is intact once it does read (refusals of later rounds
        // may come before it: they are written at once).
        var first = try XCTUnwrap(try stuck.readFrame())
        while first.streamId != 1 { first = try XCTUnwrap(try stuck.readFrame()) }
        XCTAssertEqual(first.type, .response)
        XCTAssertEqual(first.code, StatusCode.ok.rawValue)
        XCTAssertEqual(first.payload.readableBytes, answerBytes)
        print("ServerSlowReaderTests: memory grew by \(growthKibibytes) KiB (bound \(boundKibibytes) KiB) for \(requestedKibibytes) KiB of unread answers")
    }
}
