import Foundation
import MeterProto
import MeterWire
import NIOCore
import MeterTestSupport
import XCTest

/// Over a real socket to a live meterd: a protocol error behind a request still in flight
/// gets that request's RESPONSE first and the GOAWAY last, then EOF (issue 11, defect 6). A
/// client that stops at GOAWAY thus never loses an ingest acknowledgement.
final class ServerGoAwayOrderTests: XCTestCase {
    private func batchFrame(streamId: UInt32, prefix: String) throws -> WireFrame {
        var batch = Meterd_V1_IngestBatchRequest()
        batch.events = (0..<1000).map { ServerEndToEndTests.event("\(prefix)-\($0)", customer: "customer-\($0 % 7)", tokens: "2") }
        return WireFrame(type: .request, code: MethodID.ingestBatch.rawValue, streamId: streamId, payload: try ProtobufPayload.encode(batch))
    }

    private func bytes(_ frames: [WireFrame]) -> [UInt8] {
        var buffer = ByteBuffer()
        for frame in frames { FrameEncoder.write(frame, to: &buffer) }
        return Array(buffer.readableBytesView)
    }

    /// Sends `frames` in one write and reads every frame until the server closes.
    private func framesUntilClose(after frames: [WireFrame], server: ServerProcess) throws -> (RawWireClient, [WireFrame]) {
        let client = try RawWireClient(.unix(server.socketPath))
        try client.handshake()
        try client.send(bytes(frames))
        var received: [WireFrame] = []
        while let frame = try client.readFrame() { received.append(frame) }
        return (client, received)
    }

    private func assertBatchAnsweredThenGoAway(_ received: [WireFrame], client: RawWireClient, reasonContains expected: String,
                                               file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(received.map(\.type), [.response, .goAway], "frames in arrival order", file: file, line: line)
        guard received.count == 2, received[0].type == .response, received[1].type == .goAway else { return }
        XCTAssertEqual(received[0].streamId, 1, file: file, line: line)
        XCTAssertEqual(received[0].code, StatusCode.ok.rawValue, file: file, line: line)
        let response = try ProtobufPayload.decode(Meterd_V1_IngestBatchResponse.self, from: received[0].payload)
        XCTAssertEqual(response.accepted, 1000, file: file, line: line)
        let goAway = try ProtobufPayload.decode(Meterd_V1_GoAway.self, from: received[1].payload)
        XCTAssertTrue(goAway.reason.contains(expected), goAway.reason, file: file, line: line)
        XCTAssertEqual(goAway.lastStreamID, 1, file: file, line: line)
    }

    func testNonZeroFlagsBehindABatchGetTheBatchAcknowledgedBeforeTheGoAway() throws {
        let server = try ServerProcess(self)
        defer { XCTAssertEqual(server.stop(), 0) }
        let setup = try RawWireClient(.unix(server.socketPath))
        try setup.handshake()
        _ = try setup.call(.createMeter, ServerEndToEndTests.guideMeter(), as: Meterd_V1_CreateMeterResponse.self).get()

        let flagged = WireFrame(type: .request, flags: 1, code: MethodID.healthCheck.rawValue, streamId: 3, payload: ByteBuffer())
        let (client, received) = try framesUntilClose(after: [try batchFrame(streamId: 1, prefix: "flags"), flagged], server: server)
        try assertBatchAnsweredThenGoAway(received, client: client, reasonContains: "flags must be 0")
        // The acknowledged events are really there.
        XCTAssertEqual(try ServerEndToEndTests.currentUsage(setup, customer: "customer-0"), "286")
    }

    func testAStreamIdReusedBehindABatchGetsTheBatchAcknowledgedBeforeTheGoAway() throws {
        let server = try ServerProcess(self)
        defer { XCTAssertEqual(server.stop(), 0) }
        let reuse = WireFrame(type: .request, code: MethodID.healthCheck.rawValue, streamId: 1, payload: ByteBuffer())
        let (client, received) = try framesUntilClose(after: [try batchFrame(streamId: 1, prefix: "reuse"), reuse], server: server)
        try assertBatchAnsweredThenGoAway(received, client: client, reasonContains: "stream id 1 is already in flight")
    }
}
