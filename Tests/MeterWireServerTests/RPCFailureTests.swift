import MeterProto
import MeterWire
import MeterWireServer
import NIOCore
import XCTest

/// `unary`: a request that does not decode is INVALID_ARGUMENT naming the message; a thrown
/// `RPCFailure` is its own reply with an ErrorDetail; a response is OK.
final class RPCFailureTests: XCTestCase {
    private let handler = unary(Meterd_V1_GetMeterRequest.self) { request, _ throws(RPCFailure) in
        guard request.meter.id != "missing" else { throw RPCFailure(.notFound, "no meter missing", reason: "METER_NOT_FOUND") }
        return Meterd_V1_GetMeterResponse()
    }

    private func detail(_ reply: RPCReply) throws -> Meterd_V1_ErrorDetail {
        try ProtobufPayload.decode(Meterd_V1_ErrorDetail.self, from: reply.payload)
    }

    func testARequestThatDoesNotDecodeIsInvalidArgument() async throws {
        let reply = await handler(ByteBuffer(bytes: [0xFF, 0xFF]), RequestContext(tenantId: "default"))
        XCTAssertEqual(reply.status, .invalidArgument)
        XCTAssertTrue(try detail(reply).message.hasPrefix("the request does not decode as meterd.v1.GetMeterRequest"))
    }

    func testAThrownFailureIsAnsweredWithItsStatusMessageAndReason() async throws {
        var request = Meterd_V1_GetMeterRequest()
        request.meter.id = "missing"
        let reply = await handler(try ProtobufPayload.encode(request), RequestContext(tenantId: "default"))
        XCTAssertEqual(reply.status, .notFound)
        let detail = try detail(reply)
        XCTAssertEqual(detail.code, UInt32(StatusCode.notFound.rawValue))
        XCTAssertEqual(detail.message, "no meter missing")
        XCTAssertEqual(detail.reason, "METER_NOT_FOUND")
    }

    func testAResponseIsOk() async throws {
        let reply = await handler(try ProtobufPayload.encode(Meterd_V1_GetMeterRequest()), RequestContext(tenantId: "default"))
        XCTAssertEqual(reply.status, .ok)
    }
}
