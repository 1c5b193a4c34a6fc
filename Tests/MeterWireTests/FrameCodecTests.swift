import MeterProto
import MeterWire
import NIOCore
import SwiftProtobuf
import NIOEmbedded
import NIOTestUtils
import XCTest

final class FrameCodecTests: XCTestCase {
    private func frame(_ type: FrameType, code: UInt16 = 0, stream: UInt32 = 0, _ bytes: [UInt8]) -> WireFrame {
        WireFrame(type: type, code: code, streamId: stream, payload: ByteBuffer(bytes: bytes))
    }

    private func encoded(_ frames: [WireFrame], preface: Bool) -> ByteBuffer {
        var buffer = ByteBuffer()
        if preface { buffer.writeBytes(WirePreface.bytes) }
        for frame in frames { FrameEncoder.write(frame, to: &buffer) }
        return buffer
    }

    func testDecoderHandlesByteAtATimeAndManyFramesAtOnce() throws {
        let frames = [
            frame(.handshake, [1, 2, 3]),
            frame(.request, code: 17, stream: 1, Array(repeating: 0xAB, count: 300)),
            frame(.ping, stream: 3, [9, 9, 9, 9, 9, 9, 9, 9]),
            frame(.request, code: 1, stream: 5, []),
        ]
        // The verifier feeds the input whole, byte by byte and in random chunks (the preface
        // can only come once per stream, so it is checked byte by byte below instead).
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [(encoded(frames, preface: false), frames)],
            decoderFactory: { FrameDecoder(expectPreface: false, maximumFrameBytes: 1 << 20) })
    }

    func testPrefaceAndFramesDecodeFedOneByteAtATime() throws {
        let frames = [frame(.handshake, [1, 2, 3]), frame(.request, code: 17, stream: 1, [4, 5])]
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(expectPreface: true, maximumFrameBytes: 1024)))
        for byte in encoded(frames, preface: true).readableBytesView {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
        }
        XCTAssertEqual(try channel.readInbound(as: WireFrame.self), frames[0])
        XCTAssertEqual(try channel.readInbound(as: WireFrame.self), frames[1])
        XCTAssertTrue(try channel.finish().isClean)
    }

    func testHeaderLayoutIsBigEndianAsDocumented() {
        let bytes = Array(encoded([frame(.response, code: 6, stream: 0x0102_0304, [0xEE])], preface: false).readableBytesView)
        XCTAssertEqual(bytes, [0, 0, 0, 1, 2, 0, 0, 6, 1, 2, 3, 4, 0xEE])
        XCTAssertEqual(WirePreface.bytes, [0x4D, 0x54, 0x52, 0x44, 0, 1, 0, 0])
    }

    private func decodingError(_ bytes: [UInt8], maximum: Int = 1024) -> Error? {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(expectPreface: true, maximumFrameBytes: maximum)))
        defer { _ = try? channel.finish() }
        do {
            try channel.writeInbound(ByteBuffer(bytes: bytes))
            return nil
        } catch {
            return error
        }
    }

    func testAnHTTPRequestIsRefusedAtTheFirstBytes() {
        XCTAssertEqual(decodingError(Array("GET ".utf8)) as? WireError, .badPreface)
    }

    func testAWrongVersionIsRefused() {
        XCTAssertEqual(decodingError([0x4D, 0x54, 0x52, 0x44, 0, 9, 0, 0]) as? WireError, .unsupportedVersion(9))
    }

    func testAnOversizedFrameIsRefusedFromItsHeaderAlone() {
        let header: [UInt8] = [0, 0x10, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1]
        XCTAssertEqual(decodingError(WirePreface.bytes + header) as? WireError, .frameTooLarge(length: 0x10_0000, maximum: 1024))
    }

    func testAnUnknownFrameTypeIsRefused() {
        XCTAssertEqual(decodingError(WirePreface.bytes + [0, 0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 0]) as? WireError, .unknownFrameType(99))
    }

    func testAPartialFrameWaitsForMoreBytes() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(expectPreface: false, maximumFrameBytes: 1024)))
        let whole = Array(encoded([frame(.request, code: 2, stream: 7, [1, 2, 3, 4])], preface: false).readableBytesView)
        try channel.writeInbound(ByteBuffer(bytes: whole.prefix(14)))
        XCTAssertNil(try channel.readInbound(as: WireFrame.self))
        try channel.writeInbound(ByteBuffer(bytes: whole.dropFirst(14)))
        XCTAssertEqual(try channel.readInbound(as: WireFrame.self), frame(.request, code: 2, stream: 7, [1, 2, 3, 4]))
        XCTAssertTrue(try channel.finish().isClean)
    }

    func testGoldenVectorsDecodeAndReencodeByteForByte() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../proto/testdata").standardized
        func vector(_ name: String) throws -> [UInt8] {
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            var bytes: [UInt8] = []
            var index = text.startIndex
            while index < text.endIndex {
                let next = text.index(index, offsetBy: 2)
                bytes.append(UInt8(text[index..<next], radix: 16)!)
                index = next
            }
            return bytes
        }
        XCTAssertEqual(try vector("preface.hex"), WirePreface.bytes)

        func roundTrip<M: SwiftProtobufMessageConvertible>(_ name: String, _ type: M.Type, check: (WireFrame, M) -> Void) throws {
            var buffer = ByteBuffer(bytes: try vector(name))
            let decoded = try XCTUnwrap(try FrameDecoder.readFrame(from: &buffer, maximumFrameBytes: 1 << 20))
            XCTAssertEqual(buffer.readableBytes, 0)
            let message = try M.decode(decoded.payload)
            check(decoded, message)
            var reencoded = ByteBuffer()
            FrameEncoder.write(WireFrame(type: decoded.type, flags: decoded.flags, code: decoded.code, streamId: decoded.streamId,
                                         payload: try message.encode()), to: &reencoded)
            XCTAssertEqual(Array(reencoded.readableBytesView), try vector(name), name)
        }
        try roundTrip("handshake.hex", Meterd_V1_Handshake.self) { frame, message in
            XCTAssertEqual(frame.type, .handshake)
            XCTAssertEqual(message.clientName, "golden-client")
            XCTAssertEqual(message.tenantID, "default")
            XCTAssertEqual(message.maxFrameBytes, 4_194_304)
        }
        try roundTrip("create_meter_request.hex", Meterd_V1_CreateMeterRequest.self) { frame, message in
            XCTAssertEqual(frame.code, MethodID.createMeter.rawValue)
            XCTAssertEqual(message.definition.eventName, "tokens_used")
            XCTAssertEqual(message.definition.filters.first?.values, ["llama3.1", "llama3.2"])
            XCTAssertEqual(message.definition.aggregation, .sum)
        }
        try roundTrip("ingest_batch_request.hex", Meterd_V1_IngestBatchRequest.self) { frame, message in
            XCTAssertEqual(frame.code, MethodID.ingestBatch.rawValue)
            XCTAssertEqual(frame.streamId, 3)
            XCTAssertEqual(message.events.map(\.eventID), ["evt-1", "evt-2"])
            XCTAssertEqual(message.events.last?.properties.last?.value.decimalValue, "25.5")
        }
        try roundTrip("error_response.hex", Meterd_V1_ErrorDetail.self) { frame, message in
            XCTAssertEqual(frame.type, .response)
            XCTAssertEqual(frame.code, StatusCode.alreadyExists.rawValue)
            XCTAssertEqual(message.reason, "METER_ALREADY_EXISTS")
        }
    }
}

/// Lets the golden-vector test treat every message type alike.
protocol SwiftProtobufMessageConvertible {
    static func decode(_ buffer: ByteBuffer) throws -> Self
    func encode() throws -> ByteBuffer
}

extension Meterd_V1_Handshake: SwiftProtobufMessageConvertible {}
extension Meterd_V1_CreateMeterRequest: SwiftProtobufMessageConvertible {}
extension Meterd_V1_IngestBatchRequest: SwiftProtobufMessageConvertible {}
extension Meterd_V1_ErrorDetail: SwiftProtobufMessageConvertible {}

extension SwiftProtobufMessageConvertible where Self: SwiftProtobuf.Message {
    static func decode(_ buffer: ByteBuffer) throws -> Self { try ProtobufPayload.decode(Self.self, from: buffer) }
    func encode() throws -> ByteBuffer { try ProtobufPayload.encode(self) }
}
