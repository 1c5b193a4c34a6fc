import MeterCore
import MeterEngine
import MeterProto
import MeterTestSupport
import MeterWire
@testable import MeterServer
import NIOCore
import SwiftProtobuf
import XCTest

/// The hand-written IngestBatchResponse encoder must write exactly the bytes swift-protobuf
/// writes for the same results.
final class IngestBatchResponseEncoderTests: XCTestCase {
    private func randomResult(_ generator: inout SplitMix64) -> EventResult {
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
        let seed = TestSeed.description
        var generator = TestSeed.generator(for: #function)
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

    /// With entitlement effects (some events with one, some without) the bytes are still
    /// swift-protobuf's, and results without an effect are encoded as before.
    func testRandomResultsWithEntitlementEffectsEncodeExactlyAsSwiftProtobufDoes() throws {
        let seed = TestSeed.description
        var generator = TestSeed.generator(for: #function)
        func decimal(_ generator: inout SplitMix64) -> ExactDecimal {
            ExactDecimal(units: Int128(Int64.random(in: 0...Int64.max, using: &generator)) * Int128(Int.random(in: 0...3, using: &generator)))
        }
        for round in 0..<300 {
            let results = (0..<Int.random(in: 0...200, using: &generator)).map { _ in randomResult(&generator) }
            let effects: [EntitlementEffect?] = results.map { _ in
                Bool.random(using: &generator) ? nil : EntitlementEffect(
                    hasAccess: Bool.random(using: &generator), usage: decimal(&generator), limit: decimal(&generator),
                    remaining: decimal(&generator), crossed: Bool.random(using: &generator))
            }
            let reference = IngestBatchResponseEncoder.message(results, effects: effects)
            let encoded = IngestBatchResponseEncoder.encode(results, effects: effects)
            XCTAssertEqual(encoded, try ProtobufPayload.encode(reference), "seed \(seed) round \(round)")
            let decoded = try ProtobufPayload.decode(Meterd_V1_IngestBatchResponse.self, from: encoded)
            XCTAssertEqual(decoded, reference, "seed \(seed) round \(round)")
            // Only accepted (not duplicate) results carry an effect.
            for (position, result) in decoded.results.enumerated() where result.hasEntitlement {
                XCTAssertEqual(result.status, .accepted)
                XCTAssertEqual(result.entitlement.usage, effects[position]!.usage.description)
            }
            XCTAssertEqual(IngestBatchResponseEncoder.encode(results, effects: []), IngestBatchResponseEncoder.encode(results))
        }
    }

    func testAnAcceptedEventIsSixBytes() {
        let encoded = IngestBatchResponseEncoder.encode([.accepted(.counted)])
        XCTAssertEqual(Array(encoded.readableBytesView), [0x0A, 0x04, 0x08, 0x01, 0x10, 0x01, 0x10, 0x01])
        XCTAssertEqual(IngestBatchResponseEncoder.encode([]).readableBytes, 0)
    }
}
