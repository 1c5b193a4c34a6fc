/// Reads what `BinaryWriter` wrote, checking every length against the remaining bytes, so a
/// corrupt or hostile input gives a `DecodingError` and never a crash or a huge allocation.
public struct BinaryReader {
    let bytes: [UInt8]
    public private(set) var position: Int

    public init(_ bytes: [UInt8], position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    public var isAtEnd: Bool { position >= bytes.count }
    public var remainingCount: Int { bytes.count - position }

    @inline(__always)
    public mutating func readByte() throws(DecodingError) -> UInt8 {
        guard position < bytes.count else { throw DecodingError("unexpected end of data at byte \(position)") }
        defer { position += 1 }
        return bytes[position]
    }

    @inline(__always)
    public mutating func readVarint() throws(DecodingError) -> UInt64 {
        try readVarint(as: UInt64.self)
    }

    @inline(__always)
    public mutating func readSigned() throws(DecodingError) -> Int64 {
        let raw = try readVarint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    public mutating func readSigned128() throws(DecodingError) -> Int128 {
        let raw = try readVarint(as: UInt128.self)
        return Int128(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// A LEB128 varint of at most `Value.bitWidth` bits: a longer one, or a last byte with bits
    /// beyond the width, is refused rather than truncated.
    @inline(__always)
    private mutating func readVarint<Value: UnsignedInteger & FixedWidthInteger>(as: Value.Type) throws(DecodingError) -> Value {
        var result: Value = 0
        var shift = 0
        while true {
            let byte = try readByte()
            guard shift < Value.bitWidth, shift + 7 <= Value.bitWidth || byte >> (Value.bitWidth - shift) == 0 else {
                throw DecodingError("varint too long at byte \(position)")
            }
            result |= Value(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    public mutating func readBool() throws(DecodingError) -> Bool {
        switch try readByte() {
        case 0: return false
        case 1: return true
        default: throw DecodingError("invalid boolean at byte \(position - 1)")
        }
    }

    /// A count of following items, each at least one byte long, so it cannot exceed what is left.
    public mutating func readCount() throws(DecodingError) -> Int {
        let count = try readVarint()
        guard count <= UInt64(remainingCount) else { throw DecodingError("count \(count) exceeds remaining data at byte \(position)") }
        return Int(count)
    }

    @inline(__always)
    public mutating func readString() throws(DecodingError) -> String {
        let length = try readVarint()
        guard length <= UInt64(remainingCount) else { throw DecodingError("string length \(length) exceeds remaining data at byte \(position)") }
        let start = position
        position += Int(length)
        return bytes.withUnsafeBufferPointer { buffer in
            String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<(start + Int(length))]), as: UTF8.self)
        }
    }

    public mutating func readOptionalString() throws(DecodingError) -> String? {
        try readBool() ? try readString() : nil
    }
}

/// Bytes that do not decode as the expected record or snapshot.
public struct DecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension BinaryReader {
    /// Lends the next `count` bytes to `body` and moves past them; throws if fewer are left.
    public mutating func withRawBytes<Result>(count: Int, _ body: (UnsafeRawBufferPointer) -> Result) throws(DecodingError) -> Result {
        guard count >= 0, count <= remainingCount else { throw DecodingError("\(count) bytes expected at byte \(position), \(remainingCount) left") }
        let start = position
        position += count
        return bytes.withUnsafeBytes { all in body(UnsafeRawBufferPointer(rebasing: all[start..<(start + count)])) }
    }
}
