import Foundation
import XCTest
@testable import MeterLog

final class CRC32CTests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([]), 0)
        XCTAssertEqual(CRC32C.checksum([0]), 0x527D_5351)
        // RFC 3720 (iSCSI) B.4 test vectors.
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }), 0x113F_DB5C)
    }

    func testMatchesBitwiseReferenceForEveryLengthAndAlignment() {
        let data = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 167 &+ 13) }
        data.withUnsafeBytes { all in
            for start in 0..<9 {
                for length in 0...(all.count - start) where length < 70 || length % 17 == 0 {
                    let slice = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    XCTAssertEqual(CRC32C.checksum(slice), bitwiseReference(slice), "start \(start) length \(length)")
                }
            }
        }
    }

    /// The tables (the fallback) agree with the bitwise reference too, and this machine's CPU
    /// instruction is in use where it exists (the test above then checked the instruction).
    func testSoftwareTablesMatchTheReferenceAndTheInstructionIsUsedOnX86() {
        let data = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 5) }
        data.withUnsafeBytes { all in
            for start in 0..<9 {
                for length in 0...(all.count - start) where length < 70 || length % 13 == 0 {
                    let slice = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    XCTAssertEqual(CRC32C.softwareUpdate(0, slice), bitwiseReference(slice), "start \(start) length \(length)")
                    XCTAssertEqual(CRC32C.update(0x1234_5678, slice), CRC32C.softwareUpdate(0x1234_5678, slice), "start \(start) length \(length)")
                }
            }
        }
        #if arch(x86_64)
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        XCTAssertEqual(CRC32C.usesHardware, flags.contains(" sse4_2"))
        #endif
    }

    func testUpdateContinuesAChecksum() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        data.withUnsafeBytes { all in
            for split in [0, 1, 7, 16, 500, 999, 1000] {
                let first = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: all[0..<split]))
                let both = CRC32C.update(first, UnsafeRawBufferPointer(rebasing: all[split...]))
                XCTAssertEqual(both, CRC32C.checksum(all))
            }
        }
    }

    private func bitwiseReference(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }
}
