import XCTest
@testable import MeterLog

final class FrameCodecTests: XCTestCase {
    func testFrameRoundTripsForEveryPaddingLength() {
        for payloadByteCount in 0..<20 {
            let payload = (0..<payloadByteCount).map { UInt8($0 + 1) }
            let frameByteCount = LogFormat.frameByteCount(payloadByteCount: payloadByteCount)
            XCTAssertEqual(frameByteCount % 8, 0)
            var bytes = [UInt8](repeating: 0xAA, count: frameByteCount)
            let checksum = bytes.withUnsafeMutableBytes { frame in
                payload.withUnsafeBytes { payload in
                    FrameCodec.encode(into: frame.baseAddress!, type: 9, sequence: 1234, previousChecksum: 0xDEAD_BEEF, payload: payload)
                }
            }
            bytes.withUnsafeBytes { frame in
                guard case let .success(decoded) = FrameCodec.check(frame, at: 0) else {
                    return XCTFail("frame with \(payloadByteCount) payload bytes did not validate")
                }
                XCTAssertEqual(decoded.type, 9)
                XCTAssertEqual(decoded.sequence, 1234)
                XCTAssertEqual(decoded.previousChecksum, 0xDEAD_BEEF)
                XCTAssertEqual(decoded.checksum, checksum)
                XCTAssertEqual(decoded.payloadByteCount, payloadByteCount)
                XCTAssertEqual(Array(frame[24..<(24 + payloadByteCount)]), payload)
            }
            XCTAssertTrue(bytes[(24 + payloadByteCount)...].allSatisfy { $0 == 0 }, "padding is zeroed")
        }
    }

    func testChecksumCoversTheChainLink() {
        func frame(previousChecksum: UInt32) -> UInt32 {
            var bytes = [UInt8](repeating: 0, count: 32)
            return bytes.withUnsafeMutableBytes { frame in
                [UInt8]([1, 2, 3]).withUnsafeBytes { payload in
                    FrameCodec.encode(into: frame.baseAddress!, type: 1, sequence: 1, previousChecksum: previousChecksum, payload: payload)
                }
            }
        }
        XCTAssertNotEqual(frame(previousChecksum: 1), frame(previousChecksum: 2))
    }

    func testZeroedBytesAreNeverAFrame() {
        let zeros = [UInt8](repeating: 0, count: 64)
        zeros.withUnsafeBytes { bytes in
            guard case .failure(.paddingType) = FrameCodec.check(bytes, at: 0) else { return XCTFail("zeros decoded") }
        }
    }

    func testSegmentHeaderRoundTripAndDamage() {
        let header = SegmentHeader(firstSequence: 77, previousChecksum: 0x1234_5678)
        var bytes = header.encoded()
        XCTAssertEqual(Array(bytes[0..<8]), Array("MTRLOG01".utf8))
        bytes.withUnsafeBytes { XCTAssertEqual(try? SegmentHeader.decode($0).get(), header) }
        bytes[17] ^= 1
        bytes.withUnsafeBytes {
            guard case .failure(.checksumMismatch) = SegmentHeader.decode($0) else { return XCTFail("damage not seen") }
        }
        bytes.withUnsafeBytes {
            guard case .failure(.tooShort) = SegmentHeader.decode(UnsafeRawBufferPointer(rebasing: $0[0..<31])) else {
                return XCTFail("short header accepted")
            }
        }
    }

    func testSegmentNames() {
        XCTAssertEqual(SegmentName.make(firstSequence: 1), "log-00000000000000000001.wal")
        XCTAssertEqual(SegmentName.make(firstSequence: UInt64.max), "log-18446744073709551615.wal")
        XCTAssertEqual(SegmentName.firstSequence(of: "log-00000000000000000042.wal"), 42)
        XCTAssertNil(SegmentName.firstSequence(of: "log-00000000000000000042.wal.torn-64"))
        XCTAssertNil(SegmentName.firstSequence(of: "log-42.wal"))
    }
}
