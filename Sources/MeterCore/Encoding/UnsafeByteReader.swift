/// `BinaryReader`'s reads over borrowed bytes, for `EncodedEventBatch.parse`: the same checks
/// in the same order with the same error messages (so a payload is refused exactly as
/// `RecordCodec.decode` refuses it), without an array access per byte.
struct UnsafeByteReader {
    let bytes: UnsafeBufferPointer<UInt8>
    private(set) var position: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>, position: Int) {
        self.bytes = bytes
        self.position = position
    }

    var remainingCount: Int { bytes.count - position }

    @inline(__always)
    mutating func readByte() throws(DecodingError) -> UInt8 {
        guard position < bytes.count else { throw DecodingError("unexpected end of data at byte \(position)") }
        defer { position += 1 }
        return bytes[position]
    }

    /// See `BinaryReader.readVarint(as:)`: at most `Value.bitWidth` bits, never truncated.
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

    @inline(__always)
    mutating func readSigned() throws(DecodingError) -> Int64 {
        let raw = try readVarint(as: UInt64.self)
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    @inline(__always)
    mutating func readSigned128() throws(DecodingError) -> Int128 {
        let raw = try readVarint(as: UInt128.self)
        return Int128(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    @inline(__always)
    mutating func readBool() throws(DecodingError) -> Bool {
        switch try readByte() {
        case 0: return false
        case 1: return true
        default: throw DecodingError("invalid boolean at byte \(position - 1)")
        }
    }

    @inline(__always)
    mutating func readCount() throws(DecodingError) -> Int {
        let count = try readVarint(as: UInt64.self)
        guard count <= UInt64(remainingCount) else { throw DecodingError("count \(count) exceeds remaining data at byte \(position)") }
        return Int(count)
    }

    @inline(__always)
    mutating func readStringRange() throws(DecodingError) -> Range<Int> {
        let length = try readVarint(as: UInt64.self)
        guard length <= UInt64(remainingCount) else { throw DecodingError("string length \(length) exceeds remaining data at byte \(position)") }
        let start = position
        position += Int(length)
        return start..<position
    }
}
