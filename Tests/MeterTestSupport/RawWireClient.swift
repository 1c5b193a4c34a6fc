import Foundation
import MeterProto
import MeterWire
import NIOCore
import SwiftProtobuf

/// A deliberately simple blocking client on a real socket, for tests that must also send
/// malformed bytes. Reads time out (SO_RCVTIMEO), so a missing reply fails the test instead of
/// hanging it.
public final class RawWireClient {
    public let descriptor: Int32
    private var buffer = ByteBuffer()
    private var nextStream: UInt32 = 1

    public typealias Address = BlockingSocket.Address

    /// `receiveBufferBytes` sets SO_RCVBUF before connecting (a small one makes a client that
    /// does not read stall the server's writes quickly).
    public init(_ address: Address, timeoutSeconds: Int = 10, receiveBufferBytes: Int32? = nil) throws {
        descriptor = try BlockingSocket.connect(address, receiveBufferBytes: receiveBufferBytes, receiveTimeoutSeconds: timeoutSeconds)
    }

    deinit { close(descriptor) }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw RawClientError("send: \(String(cString: strerror(errno)))") }
            offset += written
        }
    }

    public func send(_ frame: WireFrame) throws {
        var out = ByteBuffer()
        FrameEncoder.write(frame, to: &out)
        try send(Array(out.readableBytesView))
    }

    /// Preface plus HANDSHAKE; returns the server's HANDSHAKE_ACK.
    @discardableResult
    public func handshake(tenant: String = "default", maximumFrameBytes: UInt32 = 0, credential: String = "") throws -> Meterd_V1_HandshakeAck {
        try sendHandshake(tenant: tenant, maximumFrameBytes: maximumFrameBytes, credential: credential)
        guard let reply = try readFrame() else { throw RawClientError("the connection closed instead of a HANDSHAKE_ACK") }
        guard reply.type == .handshakeAck else { throw RawClientError("expected HANDSHAKE_ACK, got \(reply.type): \(goAwayReason(reply))") }
        return try ProtobufPayload.decode(Meterd_V1_HandshakeAck.self, from: reply.payload)
    }

    /// Sends the preface and a HANDSHAKE, and reads nothing.
    public func sendHandshake(tenant: String = "default", maximumFrameBytes: UInt32 = 0, credential: String = "") throws {
        try send(WirePreface.bytes)
        var message = Meterd_V1_Handshake()
        message.protocolVersion = 1
        message.maxFrameBytes = maximumFrameBytes
        message.clientName = "raw-test-client"
        message.tenantID = tenant
        message.credential = credential
        try send(WireFrame(type: .handshake, payload: try ProtobufPayload.encode(message)))
    }

    /// A handshake the server must refuse: returns the GOAWAY's header code and reason; throws
    /// unless a GOAWAY comes and the connection closes after it.
    public func refusedHandshake(tenant: String = "", credential: String = "") throws -> (code: StatusCode, reason: String) {
        try sendHandshake(tenant: tenant, credential: credential)
        guard let reply = try readFrame() else { throw RawClientError("connection closed without a GOAWAY") }
        guard reply.type == .goAway else { throw RawClientError("expected a GOAWAY, got \(reply.type)") }
        if let after = try readFrame() { throw RawClientError("the connection stays open after the refusal: \(after.type)") }
        return (StatusCode(rawValue: reply.code), goAwayReason(reply))
    }

    /// The next frame, or nil when the server closed the connection.
    public func readFrame() throws -> WireFrame? {
        while true {
            if let frame = try FrameDecoder.readFrame(from: &buffer, maximumFrameBytes: 64 << 20) { return frame }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count == 0 { return nil }
            guard count > 0 else {
                if errno == ECONNRESET { return nil }
                throw RawClientError("recv: \(String(cString: strerror(errno)))")
            }
            buffer.writeBytes(chunk[..<count])
        }
    }

    /// Sends a request and waits for its response (any other frames in between are returned in order first... none expected).
    public func call<Response: SwiftProtobuf.Message>(_ method: MethodID, _ request: some SwiftProtobuf.Message, as: Response.Type) throws -> Result<Response, Meterd_V1_ErrorDetail> {
        let stream = nextStream
        nextStream += 2
        try send(WireFrame(type: .request, code: method.rawValue, streamId: stream, payload: try ProtobufPayload.encode(request)))
        guard let reply = try readFrame() else { throw RawClientError("the connection closed instead of answering \(method)") }
        guard reply.type == .response, reply.streamId == stream else {
            throw RawClientError("expected the RESPONSE on stream \(stream), got \(reply.type) on stream \(reply.streamId) \(goAwayReason(reply))")
        }
        if reply.code == 0 { return .success(try ProtobufPayload.decode(Response.self, from: reply.payload)) }
        return .failure(try ProtobufPayload.decode(Meterd_V1_ErrorDetail.self, from: reply.payload))
    }

    public func goAwayReason(_ frame: WireFrame) -> String {
        guard frame.type == .goAway, let message = try? ProtobufPayload.decode(Meterd_V1_GoAway.self, from: frame.payload) else { return "" }
        return message.reason
    }
}

/// What went wrong on the raw client's socket, or an unexpected frame.
public struct RawClientError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Lets a call return the server's error detail as a `Result` failure.
extension Meterd_V1_ErrorDetail: Error {}
