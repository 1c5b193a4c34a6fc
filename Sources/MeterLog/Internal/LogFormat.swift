#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sizes, magic numbers and the segment header of the on-disk format described at the top
/// of `SegmentedLog.swift` and in `docs/log-format.md`. Everything is little-endian.
enum LogFormat {
    /// "MTRLOG01" read as a little-endian 64-bit integer.
    static let segmentMagic: UInt64 = magic("MTRLOG01")
    /// The version new segments get. Version 2 segments are preallocated: zeros after the
    /// last frame are unused space, the clean end. Version 1 segments (never preallocated) are
    /// still read, by their own rule that zeros after the last frame are damage.
    static let version: UInt32 = 2
    /// The oldest version this code reads.
    static let oldestReadableVersion: UInt32 = 1
    /// The first version whose segments are preallocated (zeros after the last frame = end).
    static let firstPreallocatedVersion: UInt32 = 2
    static let segmentHeaderByteCount = 32
    static let frameHeaderByteCount = 24
    /// Frames start at multiples of this, so the 8-byte word holding a frame's length is
    /// never split across disk sectors and never torn.
    static let alignment = 8
    static let paddingType: UInt8 = 0
    static let sealType: UInt8 = 255
    static let sealPayloadByteCount = 16

    /// `byteCount` rounded up to the frame alignment.
    @inline(__always)
    static func aligned(_ byteCount: Int) -> Int {
        (byteCount &+ (alignment &- 1)) & ~(alignment &- 1)
    }

    /// The bytes a frame with `payloadByteCount` bytes of payload occupies, padding included.
    @inline(__always)
    static func frameByteCount(payloadByteCount: Int) -> Int {
        frameHeaderByteCount &+ aligned(payloadByteCount)
    }

    /// The eight ASCII characters of `text` as a little-endian integer.
    static func magic(_ text: StaticString) -> UInt64 {
        precondition(text.utf8CodeUnitCount == 8, "magic must be eight bytes")
        var value: UInt64 = 0
        for index in 0..<8 {
            value |= UInt64(text.utf8Start[index]) << (8 * UInt64(index))
        }
        return value
    }
}

/// The fixed 32-byte header at the start of every segment file.
///
/// It ties the segment into the log: the first sequence must match the file name and follow
/// the previous segment's last record, and the previous checksum must equal the previous
/// segment's final chained checksum, so a missing, reordered or foreign segment is detected.
struct SegmentHeader: Equatable {
    var firstSequence: UInt64
    var previousChecksum: UInt32
    /// The format version the segment was written in (1 or 2).
    var version: UInt32 = LogFormat.version

    /// Whether the segment is preallocated, so zeros after its last frame are its clean end.
    var isPreallocated: Bool { version >= LogFormat.firstPreallocatedVersion }

    /// Why a segment header did not validate.
    enum Problem: Error, CustomStringConvertible {
        case tooShort(byteCount: Int)
        case badMagic
        case unsupportedVersion(UInt32)
        case nonZeroReserved
        case checksumMismatch(stored: UInt32, computed: UInt32)

        var description: String {
            switch self {
            case let .tooShort(byteCount):
                return "segment header incomplete: file has \(byteCount) of \(LogFormat.segmentHeaderByteCount) bytes"
            case .badMagic:
                return "segment header magic is not MTRLOG01"
            case let .unsupportedVersion(version):
                return "segment format version \(version) is not supported: this meterd reads versions \(LogFormat.oldestReadableVersion) to \(LogFormat.version)"
            case .nonZeroReserved:
                return "segment header reserved bytes are not zero"
            case let .checksumMismatch(stored, computed):
                return "segment header checksum mismatch: stored \(hex(stored)), computed \(hex(computed))"
            }
        }
    }

    /// Writes the header into the first 32 bytes of `destination`.
    func encode(into destination: UnsafeMutableRawBufferPointer) {
        precondition(destination.count >= LogFormat.segmentHeaderByteCount)
        destination.storeBytes(of: LogFormat.segmentMagic.littleEndian, toByteOffset: 0, as: UInt64.self)
        destination.storeBytes(of: version.littleEndian, toByteOffset: 8, as: UInt32.self)
        destination.storeBytes(of: UInt32(0), toByteOffset: 12, as: UInt32.self)
        destination.storeBytes(of: firstSequence.littleEndian, toByteOffset: 16, as: UInt64.self)
        destination.storeBytes(of: previousChecksum.littleEndian, toByteOffset: 24, as: UInt32.self)
        let checksum = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: destination[0..<28]))
        destination.storeBytes(of: checksum.littleEndian, toByteOffset: 28, as: UInt32.self)
    }

    /// The header as a 32-byte array.
    func encoded() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: LogFormat.segmentHeaderByteCount)
        bytes.withUnsafeMutableBytes { encode(into: $0) }
        return bytes
    }

    /// Reads and validates the header at the start of `bytes`.
    static func decode(_ bytes: UnsafeRawBufferPointer) -> Result<SegmentHeader, Problem> {
        guard bytes.count >= LogFormat.segmentHeaderByteCount else {
            return .failure(.tooShort(byteCount: bytes.count))
        }
        guard bytes.readInteger(UInt64.self, at: 0) == LogFormat.segmentMagic else { return .failure(.badMagic) }
        let stored = bytes.readInteger(UInt32.self, at: 28)
        let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<28]))
        guard stored == computed else { return .failure(.checksumMismatch(stored: stored, computed: computed)) }
        let version = bytes.readInteger(UInt32.self, at: 8)
        guard (LogFormat.oldestReadableVersion...LogFormat.version).contains(version) else { return .failure(.unsupportedVersion(version)) }
        guard bytes.readInteger(UInt32.self, at: 12) == 0 else { return .failure(.nonZeroReserved) }
        return .success(SegmentHeader(
            firstSequence: bytes.readInteger(UInt64.self, at: 16),
            previousChecksum: bytes.readInteger(UInt32.self, at: 24),
            version: version
        ))
    }
}

extension UnsafeRawBufferPointer {
    /// The little-endian integer at `offset`, which the caller has bounds-checked.
    @inline(__always)
    func readInteger<Integer: FixedWidthInteger>(_: Integer.Type, at offset: Int) -> Integer {
        Integer(littleEndian: loadUnaligned(fromByteOffset: offset, as: Integer.self))
    }
}

/// `value` as `0x` and eight hex digits, for messages.
func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

/// Whether every byte of `bytes` from `offset` on is zero (true when none remain).
func isAllZero(_ bytes: UnsafeRawBufferPointer, from offset: Int) -> Bool {
    guard offset < bytes.count, let base = bytes.baseAddress else { return true }
    // memcmp of the range against itself shifted by one byte: fast in libc even in debug builds.
    return bytes[offset] == 0 && memcmp(base + offset, base + offset + 1, bytes.count - offset - 1) == 0
}

/// The end of the damaged bytes worth keeping in a preallocated segment: just past the last
/// non-zero byte at or after `offset`, rounded up to 4 KiB (at most the end). The zeros beyond
/// are unused preallocated space, so a cut copies kilobytes, not the rest of a 64 MiB segment.
func endOfContent(_ bytes: UnsafeRawBufferPointer, from offset: Int) -> Int {
    var end = bytes.count
    let block = 4096
    while end > offset {
        let start = max(offset, (end - 1) / block * block)
        if !isAllZero(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), from: 0) { break }
        end = start
    }
    return min(bytes.count, max(offset, (end + block - 1) / block * block))
}
