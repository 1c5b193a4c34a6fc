import Foundation
import MeterProto
import MeterWire
import NIOCore
import MeterTestSupport
import XCTest

/// Throws every kind of malformed input at a live meterd, then checks that a well-behaved
/// client is still served and that the server's memory did not balloon.
final class ServerBadInputTests: XCTestCase {
    private func goAwayReason(after bytes: [UInt8], server: ServerProcess) throws -> String {
        let client = try RawWireClient(.unix(server.socketPath))
        try client.send(bytes)
        let frame = try XCTUnwrap(try client.readFrame(), "the server closed without a GOAWAY")
        XCTAssertEqual(frame.type, .goAway)
        XCTAssertNil(try client.readFrame(), "the connection should be closed after GOAWAY")
        return client.goAwayReason(frame)
    }

    private func header(length: UInt32, type: UInt8, code: UInt16 = 0, stream: UInt32 = 0) -> [UInt8] {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: length.bigEndian) { bytes += $0 }
        bytes += [type, 0]
        withUnsafeBytes(of: code.bigEndian) { bytes += $0 }
        withUnsafeBytes(of: stream.bigEndian) { bytes += $0 }
        return bytes
    }

    func testMalformedInputClosesOnlyThatConnectionWithAClearReason() throws {
        let server = try ServerProcess(self, arguments: ["--idle-timeout-seconds", "1", "--handshake-timeout-seconds", "1"])
        defer { XCTAssertEqual(server.stop(), 0) }
        let good = try RawWireClient(.tcp(port: server.tcpPort))
        try good.handshake(credential: server.bootstrapKey)
        _ = try good.call(.createMeter, ServerEndToEndTests.guideMeter(), as: Meterd_V1_CreateMeterResponse.self).get()
        let memoryBefore = server.residentKibibytes

        XCTAssertTrue(try goAwayReason(after: Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), server: server).contains("bad preface"))
        XCTAssertTrue(try goAwayReason(after: [0x4D, 0x54, 0x52, 0x44, 0, 7, 0, 0], server: server).contains("unsupported protocol version"))
        XCTAssertTrue(try goAwayReason(after: WirePreface.bytes + header(length: 0xFFFF_FFF0, type: 1, code: 17, stream: 1), server: server).contains("exceeds the limit"))
        XCTAssertTrue(try goAwayReason(after: WirePreface.bytes + header(length: 0, type: 99), server: server).contains("unknown frame type"))
        XCTAssertTrue(try goAwayReason(after: WirePreface.bytes + header(length: 0, type: 1, code: 1, stream: 1), server: server).contains("HANDSHAKE"))
        XCTAssertTrue(try goAwayReason(after: WirePreface.bytes + header(length: 3, type: 3) + [0xFF, 0xFF, 0xFF], server: server).contains("does not decode"))
        var random = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let garbage = (0..<Int.random(in: 1...200, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            let client = try RawWireClient(.unix(server.socketPath))
            try client.send(garbage)
            while let frame = try client.readFrame() { XCTAssertEqual(frame.type, .goAway) }
        }

        // Half a handshake, then silence: the handshake timeout closes it.
        let stalled = try RawWireClient(.unix(server.socketPath))
        try stalled.send(WirePreface.bytes + header(length: 100, type: 3) + [1, 2, 3])
        let timeoutFrame = try XCTUnwrap(try stalled.readFrame())
        XCTAssertEqual(stalled.goAwayReason(timeoutFrame), "handshake timeout")
        // Half a frame after a good handshake, then silence: the idle timeout closes it.
        let idle = try RawWireClient(.unix(server.socketPath))
        try idle.handshake()
        try idle.send(header(length: 100, type: 1, code: 17, stream: 1) + [1, 2])
        let idleFrame = try XCTUnwrap(try idle.readFrame())
        XCTAssertEqual(idle.goAwayReason(idleFrame), "idle timeout")

        // Errors that keep the connection: an unknown method and a payload that does not decode.
        let survivor = try RawWireClient(.unix(server.socketPath))
        try survivor.handshake()
        try survivor.send(WireFrame(type: .request, code: 999, streamId: 99, payload: ByteBuffer()))
        let unknown = try XCTUnwrap(try survivor.readFrame())
        XCTAssertEqual(unknown.streamId, 99)
        XCTAssertEqual(unknown.code, StatusCode.unimplemented.rawValue)
        try survivor.send(WireFrame(type: .request, code: MethodID.ingestBatch.rawValue, streamId: 101, payload: ByteBuffer(bytes: [0x0A, 0xFF, 0xFF])))
        let malformed = try XCTUnwrap(try survivor.readFrame())
        XCTAssertEqual(malformed.code, StatusCode.invalidArgument.rawValue)
        XCTAssertEqual(try survivor.call(.healthCheck, Meterd_V1_HealthCheckRequest(), as: Meterd_V1_HealthCheckResponse.self).get().status, .serving)

        // Large but legal frames in a burst: served, and memory stays bounded.
        for round in 0..<5 {
            var batch = Meterd_V1_IngestBatchRequest()
            batch.events = (0..<10_000).map { ServerEndToEndTests.event("big-\(round)-\($0)", tokens: "1") }
            let response = try survivor.call(.ingestBatch, batch, as: Meterd_V1_IngestBatchResponse.self).get()
            XCTAssertEqual(response.accepted, 10_000)
        }
        var tooBig = Meterd_V1_IngestBatchRequest()
        tooBig.events = (0..<10_001).map { ServerEndToEndTests.event("over-\($0)", tokens: "1") }
        guard case .failure(let batchError) = try survivor.call(.ingestBatch, tooBig, as: Meterd_V1_IngestBatchResponse.self) else {
            return XCTFail("a batch over the limit was accepted")
        }
        XCTAssertEqual(batchError.reason, "BATCH_TOO_LARGE")

        // A new well-behaved client is served and sees everything (the first one was closed by
        // the 1 s idle timeout of this server, as configured).
        let fresh = try RawWireClient(.tcp(port: server.tcpPort))
        try fresh.handshake(credential: server.bootstrapKey)
        XCTAssertEqual(try ServerEndToEndTests.currentUsage(fresh, customer: "acme"), "50000")
        let goodClosed = try good.readFrame()
        XCTAssertEqual(goodClosed.map { good.goAwayReason($0) }, "idle timeout")
        let growthKibibytes = server.residentKibibytes - memoryBefore
        XCTAssertLessThan(growthKibibytes, 200 * 1024, "server memory grew by \(growthKibibytes) KiB")
    }

    func testAConnectionOverTheLimitIsRefusedWithAReason() throws {
        let server = try ServerProcess(self, arguments: ["--max-connections", "2"])
        defer { XCTAssertEqual(server.stop(), 0) }
        let first = try RawWireClient(.unix(server.socketPath))
        try first.handshake()
        let second = try RawWireClient(.unix(server.socketPath))
        try second.handshake()
        let third = try RawWireClient(.unix(server.socketPath))
        let refusal = try XCTUnwrap(try third.readFrame())
        XCTAssertTrue(third.goAwayReason(refusal).contains("too many connections"))
        XCTAssertEqual(try first.call(.healthCheck, Meterd_V1_HealthCheckRequest(), as: Meterd_V1_HealthCheckResponse.self).get().status, .serving)
    }
}

