import MeterCore
import MeterEngine
import MeterProto
import MeterWire
@testable import MeterServer
import NIOCore
import SwiftProtobuf
import XCTest

/// The hand-written IngestBatchResponse encoder must write exactly the bytes swift-protobuf
/// writes for the same results.
final class IngestBatchResponseEncoderTests: XCTestCase {
    private struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var value = state
            value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
            value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
            return value ^ (value >> 31)
        }
    }

    private func randomResult(_ generator: inout SeededGenerator) -> EventResult {
        switch Int.random(in: 0...9, using: &generator) {
        case 0: return .duplicate
        case 1:
            let alphabet = ["a", "Z", " ", "\"", "é", "日", "🙂", "\u{0}"]
            // Up to 300 bytes, so some lengths need a two-byte varint.
            let message = (0..<Int.random(in: 0...100, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }.joined()
            return .rejected(MeterError(RejectionCode.all.randomElement(using: &generator)!, message))
        default:
            let outcomes: [EventOutcome] = [.counted, .noActiveMeter, .filteredOut, .missingValue, .overflow, .duplicate]
            return .accepted(outcomes.randomElement(using: &generator)!)
        }
    }

    func testRandomResultsEncodeExactlyAsSwiftProtobufDoes() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["METERD_TEST_SEED"] ?? "") ?? 20261125
        var generator = SeededGenerator(state: seed)
        for round in 0..<500 {
            // Up to 300 results, so the counts need two-byte varints too.
            let results = (0..<Int.random(in: 0...300, using: &generator)).map { _ in randomResult(&generator) }
            let reference = IngestBatchResponseEncoder.message(results)
            let expected = try ProtobufPayload.encode(reference)
            let encoded = IngestBatchResponseEncoder.encode(results)
            XCTAssertEqual(encoded, expected, "seed \(seed) round \(round)")
            XCTAssertEqual(try ProtobufPayload.decode(Meterd_V1_IngestBatchResponse.self, from: encoded), reference, "seed \(seed) round \(round)")
        }
    }

    func testAnAcceptedEventIsSixBytes() {
        let encoded = IngestBatchResponseEncoder.encode([.accepted(.counted)])
        XCTAssertEqual(Array(encoded.readableBytesView), [0x0A, 0x04, 0x08, 0x01, 0x10, 0x01, 0x10, 0x01])
        XCTAssertEqual(IngestBatchResponseEncoder.encode([]).readableBytes, 0)
    }
}
