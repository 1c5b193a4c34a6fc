import NIOCore
import SwiftProtobuf

/// Protobuf messages to and from frame payloads, without going through `Data`.
public enum ProtobufPayload {
    public static func encode(_ message: some SwiftProtobuf.Message, allocator: ByteBufferAllocator = ByteBufferAllocator()) throws -> ByteBuffer {
        let bytes: [UInt8] = try message.serializedBytes()
        var buffer = allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        return buffer
    }

    public static func decode<M: SwiftProtobuf.Message>(_ type: M.Type, from buffer: ByteBuffer) throws -> M {
        try buffer.withUnsafeReadableBytes { bytes in
            try M(serializedBytes: Array(bytes))
        }
    }
}
