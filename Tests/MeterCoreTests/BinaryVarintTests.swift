import MeterCore
import MeterTestSupport
import XCTest

/// Varints of 64 and 128 bits: every value round-trips, the largest fits exactly, and a varint
/// one bit or one byte too long is refused, never truncated.
final class BinaryVarintTests: XCTestCase {
    func testRandomAndExtremeValuesRoundTrip() throws {
        var generator = TestSeed.generator(for: #function)
        var unsigned: [UInt64] = [0, 1, 127, 128, UInt64.max]
        var signed: [Int128] = [0, -1, 1, Int128.max, Int128.min]
        for _ in 0..<1000 {
            unsigned.append(generator.next() >> (generator.next() % 64))
            signed.append(Int128(truncatingIfNeeded: UInt128(generator.next()) << 64 | UInt128(generator.next())) >> (generator.next() % 128))
        }
        var writer = BinaryWriter()
        for value in unsigned { writer.write(varint: value) }
        for value in signed { writer.write(signed128: value) }
        var reader = BinaryReader(writer.bytes)
        for value in unsigned { XCTAssertEqual(try reader.readVarint(), value, "seed \(TestSeed.description)") }
        for value in signed { XCTAssertEqual(try reader.readSigned128(), value, "seed \(TestSeed.description)") }
        XCTAssertTrue(reader.isAtEnd)
    }

    func testA64BitVarintWithMoreThan64BitsIsRefused() {
        // UInt64.max: nine bytes of 0xFF then 0x01. A last byte of 0x02 would be bit 64.
        var maximum = BinaryReader([UInt8](repeating: 0xFF, count: 9) + [0x01])
        XCTAssertEqual(try maximum.readVarint(), UInt64.max)
        var beyond = BinaryReader([UInt8](repeating: 0xFF, count: 9) + [0x02])
        XCTAssertThrowsError(try beyond.readVarint())
        var longer = BinaryReader([UInt8](repeating: 0x80, count: 10) + [0x00])
        XCTAssertThrowsError(try longer.readVarint())
    }

    func testA128BitVarintWithMoreThan128BitsIsRefused() {
        // 18 bytes carry 126 bits; the 19th may add two (0...3).
        var maximum = BinaryReader([UInt8](repeating: 0xFF, count: 18) + [0x03])
        XCTAssertEqual(try maximum.readSigned128(), Int128.min)
        var beyond = BinaryReader([UInt8](repeating: 0xFF, count: 18) + [0x04])
        XCTAssertThrowsError(try beyond.readSigned128())
    }
}
