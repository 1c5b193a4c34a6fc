import Foundation
import MeterProto
import MeterWire
import NIOCore
import SwiftProtobuf
import XCTest

/// The server-stream frames (MESSAGE 8, CANCEL 9) byte for byte as docs/protocol.md's worked
/// example ("Server streams") shows them, so the document and the code cannot drift apart.
final class StreamFrameTests: XCTestCase {
    private func hex(_ frame: WireFrame) -> String {
        var buffer = ByteBuffer()
        FrameEncoder.write(frame, to: &buffer)
        return buffer.readableBytesView.map { String(format: "%02x", $0) }.joined()
    }

    private func bytes(_ hex: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            buffer.writeInteger(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return buffer
    }

    func testTheDocumentedWatchExampleIsWhatTheCodeWrites() throws {
        var request = Meterd_V1_WatchNotificationsRequest()
        request.afterNumber = 3
        let requestFrame = WireFrame(type: .request, code: MethodID.watchNotifications.rawValue, streamId: 5,
                                     payload: try ProtobufPayload.encode(request))
        XCTAssertEqual(hex(requestFrame), "000000020100005b000000050803")

        var notification = Meterd_V1_Notification()
        notification.number = 4
        notification.ruleID = "thr_1"
        notification.meterID = "mtr_1"
        notification.customerID = "acme"
        notification.threshold = "1"
        notification.usage = "1"
        notification.sequence = 9
        notification.atMs = 1_767_225_600_000
        let message = WireFrame(type: .message, streamId: 5, payload: try ProtobufPayload.encode(notification))
        XCTAssertEqual(hex(message), "000000250800000000000005080412057468725f311a056d74725f31220461636d652a013132013148095080d0eab6b733")

        XCTAssertEqual(hex(WireFrame(type: .cancel, streamId: 5, payload: ByteBuffer())), "000000000900000000000005")

        var detail = Meterd_V1_ErrorDetail()
        detail.code = UInt32(StatusCode.cancelled.rawValue)
        detail.message = "the stream was cancelled by the client"
        let end = WireFrame(type: .response, code: StatusCode.cancelled.rawValue, streamId: 5, payload: try ProtobufPayload.encode(detail))
        XCTAssertEqual(hex(end), "0000002a0200000100000005080112267468652073747265616d207761732063616e63656c6c65642062792074686520636c69656e74")
    }

    func testTheDecoderReadsMessageAndCancelFrames() throws {
        var buffer = bytes("000000000900000000000005" + "000000020800000000000007" + "0804")
        let cancel = try XCTUnwrap(try FrameDecoder.readFrame(from: &buffer, maximumFrameBytes: 1 << 20))
        XCTAssertEqual(cancel.type, .cancel)
        XCTAssertEqual(cancel.streamId, 5)
        XCTAssertFalse(cancel.type.isServerOnly)
        let message = try XCTUnwrap(try FrameDecoder.readFrame(from: &buffer, maximumFrameBytes: 1 << 20))
        XCTAssertEqual(message.type, .message)
        XCTAssertEqual(message.streamId, 7)
        XCTAssertTrue(message.type.isServerOnly)
        XCTAssertEqual(message.type.name, "MESSAGE")
        // Type 10 is still unknown.
        var unknown = bytes("000000000a00000000000001")
        XCTAssertThrowsError(try FrameDecoder.readFrame(from: &unknown, maximumFrameBytes: 1 << 20)) { error in
            XCTAssertEqual(error as? WireError, .unknownFrameType(10))
        }
    }
}
