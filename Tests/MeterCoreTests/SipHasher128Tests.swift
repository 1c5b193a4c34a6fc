@testable import MeterCore
import XCTest

/// SipHash-2-4-128 against the reference vectors (veorq/SipHash `vectors.h`, `vectors_sip128`):
/// key 00 01 .. 0f, message 00 01 .. (length - 1).
final class SipHasher128Tests: XCTestCase {
    static let referenceKey = DedupKey(first: 0x0706_0504_0302_0100, second: 0x0f0e_0d0c_0b0a_0908)

    static let vectors: [Int: [UInt8]] = [
        0: [0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93],
        1: [0xda, 0x87, 0xc1, 0xd8, 0x6b, 0x99, 0xaf, 0x44, 0x34, 0x76, 0x59, 0x11, 0x9b, 0x22, 0xfc, 0x45],
        2: [0x81, 0x77, 0x22, 0x8d, 0xa4, 0xa4, 0x5d, 0xc7, 0xfc, 0xa3, 0x8b, 0xde, 0xf6, 0x0a, 0xff, 0xe4],
        7: [0xa1, 0xf1, 0xeb, 0xbe, 0xd8, 0xdb, 0xc1, 0x53, 0xc0, 0xb8, 0x4a, 0xa6, 0x1f, 0xf0, 0x82, 0x39],
        8: [0x3b, 0x62, 0xa9, 0xba, 0x62, 0x58, 0xf5, 0x61, 0x0f, 0x83, 0xe2, 0x64, 0xf3, 0x14, 0x97, 0xb4],
        15: [0x54, 0x93, 0xe9, 0x99, 0x33, 0xb0, 0xa8, 0x11, 0x7e, 0x08, 0xec, 0x0f, 0x97, 0xcf, 0xc3, 0xd9],
        16: [0x6e, 0xe2, 0xa4, 0xca, 0x67, 0xb0, 0x54, 0xbb, 0xfd, 0x33, 0x15, 0xbf, 0x85, 0x23, 0x05, 0x77],
        63: [0x51, 0x50, 0xd1, 0x77, 0x2f, 0x50, 0x83, 0x4a, 0x50, 0x3e, 0x06, 0x9a, 0x97, 0x3f, 0xbd, 0x7c],
    ]

    static func bytes(_ value: UInt128) -> [UInt8] {
        (0..<16).map { UInt8(truncatingIfNeeded: value >> UInt128($0 * 8)) }
    }

    func testReferenceVectorsWholeAndSplit() {
        for (length, expected) in Self.vectors {
            let message = (0..<length).map { UInt8($0) }
            var whole = SipHasher128(key: Self.referenceKey)
            message.withUnsafeBytes { whole.append($0) }
            XCTAssertEqual(Self.bytes(whole.finalize()), expected, "length \(length)")
            // Fed in uneven pieces (the fingerprint feeds a 2-byte length, the tenant, the id).
            for split in [1, 3, 9] where split <= length {
                var pieces = SipHasher128(key: Self.referenceKey)
                message[..<split].withUnsafeBytes { pieces.append($0) }
                message[split...].withUnsafeBytes { pieces.append($0) }
                XCTAssertEqual(Self.bytes(pieces.finalize()), expected, "length \(length) split at \(split)")
            }
        }
    }

    func testFingerprintsDependOnKeyTenantAndId() {
        let one = EventFingerprinter(key: DedupKey(first: 1, second: 2), bits: 128)
        let other = EventFingerprinter(key: DedupKey(first: 1, second: 3), bits: 128)
        XCTAssertEqual(one.fingerprint(tenantId: "default", eventId: "evt-1"), one.fingerprint(tenantId: "default", eventId: "evt-1"))
        XCTAssertNotEqual(one.fingerprint(tenantId: "default", eventId: "evt-1"), other.fingerprint(tenantId: "default", eventId: "evt-1"))
        XCTAssertNotEqual(one.fingerprint(tenantId: "default", eventId: "evt-1"), one.fingerprint(tenantId: "other", eventId: "evt-1"))
        // The tenant's length is hashed: ("ab", "c") and ("a", "bc") differ.
        XCTAssertNotEqual(one.fingerprint(tenantId: "ab", eventId: "c"), one.fingerprint(tenantId: "a", eventId: "bc"))
        let weak = EventFingerprinter(key: DedupKey(first: 1, second: 2), bits: 5)
        XCTAssertLessThan(weak.fingerprint(tenantId: "default", eventId: "evt-1"), 32)
    }

    func testKeyHexadecimalRoundTripAndDescriptionHidesKey() {
        let key = DedupKey(first: 0x0123_4567_89ab_cdef, second: 0xfedc_ba98_7654_3210)
        XCTAssertEqual(key.hexadecimal, "0123456789abcdeffedcba9876543210")
        XCTAssertEqual(DedupKey(hexadecimal: key.hexadecimal), key)
        XCTAssertNil(DedupKey(hexadecimal: "0123"))
        XCTAssertNil(DedupKey(hexadecimal: "0123456789ABCDEFfedcba9876543210"))
        XCTAssertFalse(key.description.contains("0123456789abcdef"))
    }
}
