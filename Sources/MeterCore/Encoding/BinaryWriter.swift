/// Appends the compact binary encoding used by log records and snapshots: LEB128 varints,
/// zig-zag signed integers, and length-prefixed UTF-8 strings.
public struct BinaryWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inline(__always)
    public mutating func write(byte: UInt8) {
        bytes.append(byte)
    }

    @inline(__always)
    public mutating func write(varint value: UInt64) {
        append(varint: value)
    }

    @inline(__always)
    public mutating func write(signed value: Int64) {
        write(varint: UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    public mutating func write(signed128 value: Int128) {
        append(varint: UInt128(bitPattern: (value << 1) ^ (value >> 127)))
    }

    /// LEB128: seven bits a byte, low first, the high bit set on every byte but the last.
    @inline(__always)
    private mutating func append<Value: UnsignedInteger & FixedWidthInteger>(varint value: Value) {
        var remaining = value
        while remaining >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
    }

    @inline(__always)
    public mutating func write(bool value: Bool) {
        bytes.append(value ? 1 : 0)
    }

    @inline(__always)
    public mutating func write(string value: String) {
        var value = value
        value.withUTF8 { utf8 in
            write(varint: UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// Appends bytes as they are (already encoded).
    @inline(__always)
    public mutating func write(bytes value: ArraySlice<UInt8>) {
        bytes.append(contentsOf: value)
    }

    public mutating func write(optionalString value: String?) {
        write(bool: value != nil)
        if let value { write(string: value) }
    }
}

extension BinaryWriter {
    /// Appends raw bytes (flat arrays in snapshots).
    public mutating func write(raw value: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: value)
    }
}
