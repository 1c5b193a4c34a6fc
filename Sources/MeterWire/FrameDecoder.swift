import NIOCore

/// Decodes frames from a byte stream, optionally after checking the client preface.
///
/// Peeks the header with `getInteger(at: readerIndex)` and waits (`.needMoreData`) until the
/// whole frame is there; a frame longer than the limit is refused from its header alone, before
/// any of it is buffered, so a hostile length cannot make the server allocate.
public struct FrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = WireFrame

    private var expectingPreface: Bool
    private let maximumFrameBytes: Int

    public init(expectPreface: Bool, maximumFrameBytes: Int) {
        expectingPreface = expectPreface
        self.maximumFrameBytes = maximumFrameBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if expectingPreface {
            // Check the magic as soon as its bytes arrive, so "GET / HTTP/1.1" fails at once.
            let available = Swift.min(buffer.readableBytes, 4)
            if let start = buffer.getBytes(at: buffer.readerIndex, length: available),
               start != Array(WirePreface.magic.prefix(available)) {
                throw WireError.badPreface
            }
            guard buffer.readableBytes >= WirePreface.length else { return .needMoreData }
            let version: UInt16 = buffer.getInteger(at: buffer.readerIndex + 4)!
            guard version == WirePreface.protocolVersion else { throw WireError.unsupportedVersion(version) }
            let reserved: UInt16 = buffer.getInteger(at: buffer.readerIndex + 6)!
            guard reserved == 0 else { throw WireError.nonZeroPrefaceReserved(reserved) }
            buffer.moveReaderIndex(forwardBy: WirePreface.length)
            expectingPreface = false
        }
        guard let frame = try Self.readFrame(from: &buffer, maximumFrameBytes: maximumFrameBytes) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    /// Reads one whole frame from `buffer`, or returns nil (consuming nothing) if it is incomplete.
    public static func readFrame(from buffer: inout ByteBuffer, maximumFrameBytes: Int) throws -> WireFrame? {
        guard buffer.readableBytes >= WireFrame.headerLength else { return nil }
        let start = buffer.readerIndex
        let length = Int(buffer.getInteger(at: start, as: UInt32.self)!)
        guard length <= maximumFrameBytes else { throw WireError.frameTooLarge(length: length, maximum: maximumFrameBytes) }
        let rawType: UInt8 = buffer.getInteger(at: start + 4)!
        guard let type = FrameType(rawValue: rawType) else { throw WireError.unknownFrameType(rawType) }
        guard buffer.readableBytes >= WireFrame.headerLength + length else { return nil }
        let flags: UInt8 = buffer.getInteger(at: start + 5)!
        let code: UInt16 = buffer.getInteger(at: start + 6)!
        let streamId: UInt32 = buffer.getInteger(at: start + 8)!
        buffer.moveReaderIndex(forwardBy: WireFrame.headerLength)
        let payload = buffer.readSlice(length: length)!
        return WireFrame(type: type, flags: flags, code: code, streamId: streamId, payload: payload)
    }
}

/// Encodes frames (and writes nothing else: the preface is written by the client directly).
public struct FrameEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = WireFrame

    public init() {}

    public func encode(data frame: WireFrame, out: inout ByteBuffer) throws {
        Self.write(frame, to: &out)
    }

    public static func write(_ frame: WireFrame, to out: inout ByteBuffer) {
        var payload = frame.payload
        out.reserveCapacity(out.writerIndex + WireFrame.headerLength + payload.readableBytes)
        out.writeInteger(UInt32(payload.readableBytes))
        out.writeInteger(frame.type.rawValue)
        out.writeInteger(frame.flags)
        out.writeInteger(frame.code)
        out.writeInteger(frame.streamId)
        out.writeBuffer(&payload)
    }
}
