import MeterCore
import MeterProto
import MeterTestSupport
@testable import MeterServer
import NIOCore
import SwiftProtobuf
import XCTest

/// The hand-written IngestBatch decoder must accept exactly what swift-protobuf accepts and
/// produce the same events (ProtoConversions of the swift-protobuf message).
final class IngestBatchDecoderTests: XCTestCase {
    private func randomText(_ generator: inout SplitMix64) -> String {
        let alphabet = ["a", "b", "z", "0", "9", "_", "-", ".", " ", "é", "日", "🙂", "\u{0}"]
        return (0..<Int.random(in: 0...12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }.joined()
    }

    private func randomRequest(_ generator: inout SplitMix64) -> Meterd_V1_IngestBatchRequest {
        var request = Meterd_V1_IngestBatchRequest()
        for _ in 0..<Int.random(in: 0...20, using: &generator) {
            var event = Meterd_V1_Event()
            event.eventID = randomText(&generator)
            event.eventName = ["tokens_used", "orders", randomText(&generator)].randomElement(using: &generator)!
            event.customerID = randomText(&generator)
            event.timestampMs = Int64.random(in: Int64.min...Int64.max, using: &generator)
            if Bool.random(using: &generator) { event.source = randomText(&generator) }
            for _ in 0..<Int.random(in: 0...5, using: &generator) {
                var property = Meterd_V1_Property()
                property.key = randomText(&generator)
                switch Int.random(in: 0...5, using: &generator) {
                case 0: property.value.stringValue = randomText(&generator)
                case 1: property.value.integerValue = Int64.random(in: Int64.min...Int64.max, using: &generator)
                case 2: property.value.decimalValue = ["25.5", "-0.000000001", "1e3", "99999999999999999999", "1.2.3", "", "0.1234567891"].randomElement(using: &generator)!
                case 3: property.value.boolValue = Bool.random(using: &generator)
                case 4: break   // no value
                default: property.value.stringValue = ""
                }
                event.properties.append(property)
            }
            request.events.append(event)
        }
        if Int.random(in: 0...3, using: &generator) == 0 { request.includeEntitlementEffects = true }
        return request
    }

    private func reference(_ bytes: [UInt8]) -> [Result<UsageEvent, MeterError>]? {
        guard let message = try? Meterd_V1_IngestBatchRequest(serializedBytes: bytes) else { return nil }
        return message.events.map(ProtoConversions.event)  // the same as IngestBatchDecoder.decodeWithSwiftProtobuf
    }

    private func assertSame(_ fast: [Result<UsageEvent, MeterError>], _ slow: [Result<UsageEvent, MeterError>], _ context: String) {
        XCTAssertEqual(fast.count, slow.count, context)
        for (first, second) in zip(fast, slow) {
            switch (first, second) {
            case (.success(let a), .success(let b)): XCTAssertEqual(a, b, context)
            case (.failure(let a), .failure(let b)): XCTAssertEqual(a.code, b.code, context)
            default: XCTFail("fast \(first) vs swift-protobuf \(second) (\(context))")
            }
        }
    }

    func testRandomBatchesDecodeExactlyAsSwiftProtobufDoes() throws {
        let seed = TestSeed.description
        var generator = TestSeed.generator(for: #function)
        for round in 0..<2000 {
            let bytes: [UInt8] = try randomRequest(&generator).serializedBytes()
            let fast = try IngestBatchDecoder.decode(ByteBuffer(bytes: bytes))
            assertSame(fast, try XCTUnwrap(reference(bytes)), "seed \(seed) round \(round)")
            let request = try IngestBatchDecoder.decodeRequest(ByteBuffer(bytes: bytes))
            XCTAssertEqual(request.includeEntitlementEffects, try Meterd_V1_IngestBatchRequest(serializedBytes: bytes).includeEntitlementEffects,
                           "seed \(seed) round \(round)")
        }
    }

    func testDamagedBytesAreRefusedExactlyWhenSwiftProtobufRefusesThem() throws {
        let seed = TestSeed.description
        var generator = TestSeed.generator(for: #function)
        var refused = 0
        for round in 0..<3000 {
            var bytes: [UInt8] = try randomRequest(&generator).serializedBytes()
            guard !bytes.isEmpty else { continue }
            switch round % 3 {
            case 0: bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
            case 1: bytes[Int.random(in: 0..<bytes.count, using: &generator)] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
            default: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: Int.random(in: 0...bytes.count, using: &generator))
            }
            let slow = reference(bytes)
            let fast = try? IngestBatchDecoder.decode(ByteBuffer(bytes: bytes))
            switch (fast, slow) {
            case (.some(let fast), .some(let slow)): assertSame(fast, slow, "seed \(seed) round \(round)")
            case (.none, .none): refused += 1
            default: XCTFail("seed \(seed) round \(round): fast path \(fast == nil ? "refused" : "accepted") what swift-protobuf \(slow == nil ? "refused" : "accepted"): \(bytes)")
            }
        }
        XCTAssertGreaterThan(refused, 100, "damage should often make the bytes undecodable")
    }

    /// An unknown group inside an event must end with its own field's end tag (found by a
    /// random seed: the fast path used to take any end tag).
    func testAnUnknownGroupMustEndWithItsOwnEndTag() throws {
        let matched: [UInt8] = [10, 2, 9 << 3 | 3, 9 << 3 | 4]
        let mismatched: [UInt8] = [10, 2, 9 << 3 | 3, 8 << 3 | 4]
        XCTAssertNotNil(reference(matched))
        XCTAssertEqual(try IngestBatchDecoder.decode(ByteBuffer(bytes: matched)).count, 1)
        XCTAssertNil(reference(mismatched))
        XCTAssertThrowsError(try IngestBatchDecoder.decode(ByteBuffer(bytes: mismatched)))
    }

    func testTheGoldenVectorDecodes() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../proto/testdata/ingest_batch_request.hex").standardized
        let hex = try String(contentsOf: url, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        let events = try IngestBatchDecoder.decode(ByteBuffer(bytes: bytes.dropFirst(12)))
        let second = try XCTUnwrap(try events.last?.get())
        XCTAssertEqual(second.eventId, "evt-2")
        XCTAssertEqual(second.property("tokens"), .decimal(try ExactDecimal(parsing: "25.5")))
        XCTAssertEqual(try events.first?.get().property("tokens"), .integer(1250))
    }
}
