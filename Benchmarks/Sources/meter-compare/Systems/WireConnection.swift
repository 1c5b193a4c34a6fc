import Foundation
import MeterProto
import MeterTestSupport
import MeterWire
import NIOCore
import SwiftProtobuf

/// A blocking meterd connection on a real socket (Unix or TCP): preface, handshake, then one
/// request at a time. The benchmark gives every system the same shape of client: one thread,
/// one connection, one request in flight.
final class WireConnection {
    typealias Address = BlockingSocket.Address

    private let descriptor: Int32
    private var buffer = ByteBuffer()
    private var nextStream: UInt32 = 1
    private var receiveChunk = [UInt8](repeating: 0, count: 1 << 16)
    private var credential = ""

    /// `credential`: meterd over TCP needs an API key (docs/security.md).
    init(_ address: Address, credential: String = "") throws {
        self.credential = credential
        do {
            descriptor = try BlockingSocket.connect(address)
        } catch {
            throw BenchError("\(error)")
        }
        if case .tcp = address {
            var noDelay: Int32 = 1
            setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        }
        try handshake()
    }

    deinit { close(descriptor) }

    private func handshake() throws {
        try write(WirePreface.bytes)
        var message = Meterd_V1_Handshake()
        message.protocolVersion = 1
        message.clientName = "meter-compare"
        message.tenantID = "default"
        message.credential = credential
        try write(frame: WireFrame(type: .handshake, payload: try ProtobufPayload.encode(message)))
        guard let reply = try readFrame(), reply.type == .handshakeAck else { throw BenchError("meterd did not answer the handshake") }
    }

    /// The bytes of one REQUEST frame; `call(frameBytes:)` sets its stream id when sending.
    static func requestFrame(_ method: MethodID, _ message: some SwiftProtobuf.Message) throws -> [UInt8] {
        var out = ByteBuffer()
        FrameEncoder.write(WireFrame(type: .request, code: method.rawValue, streamId: 0, payload: try ProtobufPayload.encode(message)), to: &out)
        return Array(out.readableBytesView)
    }

    /// Sends a prepared REQUEST frame and returns the response payload; throws on an error status.
    func call(frameBytes: [UInt8]) throws -> ByteBuffer {
        var bytes = frameBytes
        let stream = nextStream
        nextStream &+= 2
        bytes[8] = UInt8(truncatingIfNeeded: stream >> 24)
        bytes[9] = UInt8(truncatingIfNeeded: stream >> 16)
        bytes[10] = UInt8(truncatingIfNeeded: stream >> 8)
        bytes[11] = UInt8(truncatingIfNeeded: stream)
        try write(bytes)
        guard let reply = try readFrame() else { throw BenchError("meterd closed the connection") }
        guard reply.type == .response, reply.streamId == stream else { throw BenchError("unexpected \(reply.type) frame from meterd") }
        guard reply.code == 0 else {
            let detail = try? ProtobufPayload.decode(Meterd_V1_ErrorDetail.self, from: reply.payload)
            throw BenchError("meterd answered status \(reply.code): \(detail?.message ?? "")")
        }
        return reply.payload
    }

    /// A unary call with a message in and a message out.
    func call<Response: SwiftProtobuf.Message>(_ method: MethodID, _ request: some SwiftProtobuf.Message, as: Response.Type) throws -> Response {
        try ProtobufPayload.decode(Response.self, from: try call(frameBytes: try Self.requestFrame(method, request)))
    }

    private func write(frame: WireFrame) throws {
        var out = ByteBuffer()
        FrameEncoder.write(frame, to: &out)
        try write(Array(out.readableBytesView))
    }

    private func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw BenchError("send: \(String(cString: strerror(errno)))") }
            offset += written
        }
    }

    private func readFrame() throws -> WireFrame? {
        while true {
            if let frame = try FrameDecoder.readFrame(from: &buffer, maximumFrameBytes: 64 << 20) { return frame }
            let count = receiveChunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count == 0 { return nil }
            guard count > 0 else { throw BenchError("recv: \(String(cString: strerror(errno)))") }
            buffer.writeBytes(receiveChunk[..<count])
        }
    }
}
