/// One frame whose bytes passed `FrameCodec.check`: its own checksum matched, so every field
/// is what the writer wrote. Whether it belongs at this position (sequence and chain) is the
/// scanner's question.
struct Frame {
    var type: UInt8
    var sequence: UInt64
    var previousChecksum: UInt32
    var checksum: UInt32
    var payloadByteCount: Int

    /// The bytes the frame occupies, header and padding included.
    var byteCount: Int { LogFormat.frameByteCount(payloadByteCount: payloadByteCount) }
}

/// Why bytes at some offset are not the next record of a segment.
enum FrameProblem: Error, CustomStringConvertible {
    case incompleteHeader(remaining: Int)
    case paddingType
    case nonZeroReserved
    case payloadTooLarge(byteCount: Int)
    case extendsPastEnd(frameByteCount: Int, remaining: Int)
    case nonZeroPadding
    case checksumMismatch(stored: UInt32, computed: UInt32)
    case unexpectedSequence(found: UInt64, expected: UInt64)
    case brokenChain(stored: UInt32, expected: UInt32)
    case badSeal(String)
    case bytesAfterSeal

    /// Whether a frame that validates on its own is at the bad offset and is merely out of
    /// place. A torn write cannot produce that, so such a problem is never a torn tail.
    var isMisplacedValidFrame: Bool {
        switch self {
        case .unexpectedSequence, .brokenChain, .badSeal: return true
        default: return false
        }
    }

    var description: String {
        switch self {
        case let .incompleteHeader(remaining):
            return "incomplete frame header: \(remaining) of \(LogFormat.frameHeaderByteCount) bytes"
        case .paddingType:
            return "frame type 0 (unwritten or zeroed bytes)"
        case .nonZeroReserved:
            return "frame reserved bytes are not zero"
        case let .payloadTooLarge(byteCount):
            return "frame length \(byteCount) exceeds the maximum payload"
        case let .extendsPastEnd(frameByteCount, remaining):
            return "frame of \(frameByteCount) bytes extends past the end of the file (\(remaining) bytes remain)"
        case .nonZeroPadding:
            return "frame alignment padding is not zero"
        case let .checksumMismatch(stored, computed):
            return "frame checksum mismatch: stored \(hex(stored)), computed \(hex(computed))"
        case let .unexpectedSequence(found, expected):
            return "frame has sequence \(found), expected \(expected)"
        case let .brokenChain(stored, expected):
            return "frame's previous checksum \(hex(stored)) does not chain to \(hex(expected))"
        case let .badSeal(reason):
            return "invalid seal record: \(reason)"
        case .bytesAfterSeal:
            return "bytes follow the seal record"
        }
    }
}

/// Encodes frames and checks a frame's self-consistency.
///
/// Frame layout (24-byte header, then payload, then zero padding to 8 bytes):
/// length u32 @0, type u8 @4, reserved 3 bytes @5, sequence u64 @8, previous checksum u32
/// @16, checksum u32 @20. The checksum is CRC-32C over bytes 0..<20 then the payload; since
/// bytes 16..<20 hold the previous frame's checksum, it is chained as in etcd, yet each frame
/// can also be verified on its own.
enum FrameCodec {
    /// Writes a frame at `destination`, which must have room for
    /// `LogFormat.frameByteCount(payloadByteCount: payload.count)` bytes, and returns its checksum.
    @inline(__always)
    static func encode(
        into destination: UnsafeMutableRawPointer,
        type: UInt8,
        sequence: UInt64,
        previousChecksum: UInt32,
        payload: UnsafeRawBufferPointer
    ) -> UInt32 {
        let header = UnsafeMutableRawBufferPointer(start: destination, count: LogFormat.frameHeaderByteCount)
        header.storeBytes(of: UInt32(truncatingIfNeeded: payload.count).littleEndian, toByteOffset: 0, as: UInt32.self)
        header.storeBytes(of: UInt32(type).littleEndian, toByteOffset: 4, as: UInt32.self)
        header.storeBytes(of: sequence.littleEndian, toByteOffset: 8, as: UInt64.self)
        header.storeBytes(of: previousChecksum.littleEndian, toByteOffset: 16, as: UInt32.self)
        let payloadStart = destination + LogFormat.frameHeaderByteCount
        if let source = payload.baseAddress, payload.count > 0 {
            payloadStart.copyMemory(from: source, byteCount: payload.count)
        }
        let paddingByteCount = LogFormat.aligned(payload.count) &- payload.count
        (payloadStart + payload.count).initializeMemory(as: UInt8.self, repeating: 0, count: paddingByteCount)
        var checksum = CRC32C.checksum(UnsafeRawBufferPointer(start: destination, count: 20))
        checksum = CRC32C.update(checksum, UnsafeRawBufferPointer(start: payloadStart, count: payload.count))
        header.storeBytes(of: checksum.littleEndian, toByteOffset: 20, as: UInt32.self)
        return checksum
    }

    /// Validates the frame starting at `offset` in `bytes` on its own: completeness, type,
    /// reserved and padding bytes, and checksum. Sequence and chain are not checked here.
    @inline(__always)
    static func check(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Result<Frame, FrameProblem> {
        let remaining = bytes.count &- offset
        guard remaining >= LogFormat.frameHeaderByteCount else {
            return .failure(.incompleteHeader(remaining: remaining))
        }
        let typeWord = bytes.readInteger(UInt32.self, at: offset &+ 4)
        let type = UInt8(truncatingIfNeeded: typeWord)
        guard type != LogFormat.paddingType else { return .failure(.paddingType) }
        guard typeWord >> 8 == 0 else { return .failure(.nonZeroReserved) }
        let payloadByteCount = Int(bytes.readInteger(UInt32.self, at: offset))
        let maximum = type == LogFormat.sealType ? LogFormat.sealPayloadByteCount : LogRecord.maximumPayloadByteCount
        guard payloadByteCount <= maximum else { return .failure(.payloadTooLarge(byteCount: payloadByteCount)) }
        let frameByteCount = LogFormat.frameByteCount(payloadByteCount: payloadByteCount)
        guard frameByteCount <= remaining else {
            return .failure(.extendsPastEnd(frameByteCount: frameByteCount, remaining: remaining))
        }
        let payloadOffset = offset &+ LogFormat.frameHeaderByteCount
        for paddingOffset in (payloadOffset &+ payloadByteCount)..<(offset &+ frameByteCount)
        where bytes[paddingOffset] != 0 {
            return .failure(.nonZeroPadding)
        }
        let stored = bytes.readInteger(UInt32.self, at: offset &+ 20)
        var computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset &+ 20)]))
        computed = CRC32C.update(computed, UnsafeRawBufferPointer(rebasing: bytes[payloadOffset..<(payloadOffset &+ payloadByteCount)]))
        guard stored == computed else { return .failure(.checksumMismatch(stored: stored, computed: computed)) }
        return .success(Frame(
            type: type,
            sequence: bytes.readInteger(UInt64.self, at: offset &+ 8),
            previousChecksum: bytes.readInteger(UInt32.self, at: offset &+ 16),
            checksum: stored,
            payloadByteCount: payloadByteCount
        ))
    }
}
