@testable import MeterCore
import MeterTestSupport
import XCTest

/// `apply(logRecordType:payload:sequence:)` (decode-into-apply, used by recovery) against
/// `apply(RecordCodec.decode(...))`: the same outcomes and byte-identical snapshots on the
/// values where the two could part (numbers and booleans as filter values, numeric strings,
/// group-by, COUNT_UNIQUE, canonically equal but byte-different ids, duplicates, thresholds),
/// a fallback to the decoded path for bytes that are not plain UTF-8, and refusal without a
/// change of payloads that do not decode. The randomized oracle and replay tests cover the rest.
final class EncodedRecordApplyTests: XCTestCase {
    private let meters: [MeterDefinition] = [
        MeterDefinition(eventName: "calls", displayName: "Calls", filters: [MeterFilter(key: "tier", values: ["1", "2.5", "true", "gold"])],
                        aggregation: .count, groupBy: ["region"]),
        MeterDefinition(eventName: "users", displayName: "Users", aggregation: Aggregation(kind: .countUnique, field: "user")),
        MeterDefinition(eventName: "spend", displayName: "Spend", aggregation: .sum("v"), groupBy: ["region", "tier"]),
    ]

    /// Two machines with the same meters (and a threshold rule on "spend"), one fed decoded
    /// records and one fed bytes.
    private func pair() -> (decoded: MeterStateMachine, bytes: MeterStateMachine) {
        let machines = (MeterStateMachine(), MeterStateMachine())
        var sequence: UInt64 = 0
        for definition in meters {
            sequence += 1
            machines.0.apply(.meterCreated(definition, atMilliseconds: baseTime), sequence: sequence)
            machines.1.apply(.meterCreated(definition, atMilliseconds: baseTime), sequence: sequence)
        }
        let rule = StateRecord.thresholdRuleAdded(ThresholdRuleDefinition(meterId: "mtr_3", customerId: nil, level: .absolute(decimal("15"))),
                                                  actor: .bootstrap, atMilliseconds: baseTime)
        machines.0.apply(rule, sequence: 4)
        machines.1.apply(rule, sequence: 4)
        return machines
    }

    private func batches() -> [[UsageEvent]] {
        let nfc = "\u{E9}mile", nfd = "e\u{301}mile"   // equal as Swift Strings, different bytes
        let longCustomer = "customer-" + String(repeating: "x", count: 40)
        return [
            [
                event("a1", "calls", customer: nfc, ["tier": .integer(1), "region": .string("eu")]),
                event("a2", "calls", customer: nfd, ["tier": .decimal(decimal("2.5")), "region": .string("eu")]),
                event("a3", "calls", customer: longCustomer, ["tier": .boolean(true)]),
                event("a4", "calls", customer: nfc, ["tier": .string("1"), "region": .integer(7)]),
                event("a5", "calls", customer: nfc, ["tier": .string("2.50")]),        // filtered out: text differs
                event("a6", "calls", customer: nfc, ["region": .string("eu")]),         // filtered out: no tier
                event("a1", "calls", customer: nfc, ["tier": .integer(1)]),             // duplicate in the batch
                event("a7", "nothing", customer: nfc),                                  // no active meter
                event(String(repeating: "i", count: 48), "users", customer: nfd, ["user": .string("\u{E9}")]),
                event("a8", "users", customer: nfd, ["user": .string("e\u{301}")]),
                event("a9", "users", customer: nfd, ["user": .integer(3)]),
                event("a10", "users", customer: nfd, ["user": .decimal(decimal("3.0"))]),
                event("a11", "users", customer: nfd),                                  // missing value
            ],
            [
                event("a1", "calls", customer: nfc, ["tier": .integer(1)]),             // duplicate of an earlier record
                event("b1", "spend", customer: nfc, ["v": .string("12.5"), "region": .string("us"), "tier": .string("gold")]),
                event("b2", "spend", customer: nfc, ["v": .integer(4), "region": .string("us"), "tier": .string("gold")]),
                event("b3", "spend", customer: nfd, ["v": .decimal(decimal("7.25")), "tier": .boolean(false)]),
                event("b4", "spend", customer: nfd, ["v": .boolean(true)]),             // not a number
                event("b5", "spend", customer: nfd, ["v": .string("n/a")]),             // not a number
                event("b6", "spend", customer: longCustomer, ["v": .string("+7"), "region": .string("")]),
                event("b7", "spend", customer: nfc, ["v": .integer(3), "region": .string("us"), "tier": .string("gold")]),
            ],
        ]
    }

    func testEventsAppliedFromBytesMatchTheDecodedPath() throws {
        let (decoded, bytes) = pair()
        var sequence: UInt64 = 4
        var outcomes: [EventOutcome] = []
        for (offset, events) in batches().enumerated() {
            sequence += 1
            let record = StateRecord.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: baseTime + Int64(offset) * minute, events: events)
            let encoded = RecordCodec.encode(record)
            let expected = decoded.apply(try RecordCodec.decode(type: encoded.type, payload: encoded.payload), sequence: sequence)
            let actual = try bytes.apply(logRecordType: encoded.type, payload: encoded.payload, sequence: sequence)
            XCTAssertEqual(actual, expected, "record \(offset)")
            if case .events(let list) = actual { outcomes += list }
        }
        XCTAssertEqual(bytes.snapshot(), decoded.snapshot())
        // The batches reach every outcome they are meant to, and the threshold was crossed.
        for outcome in [EventOutcome.counted, .filteredOut, .duplicate, .noActiveMeter, .missingValue] {
            XCTAssertTrue(outcomes.contains(outcome), "no \(outcome)")
        }
        XCTAssertGreaterThan(bytes.lastNotificationNumber, 0)
        XCTAssertEqual(bytes.lastNotificationNumber, decoded.lastNotificationNumber)
        // Canonically equal but byte-different customer ids: the same number of customers both ways.
        XCTAssertEqual(bytes.tenants[Tenant.defaultId]?.customers.count, decoded.tenants[Tenant.defaultId]?.customers.count)
    }

    /// Bytes that are not valid UTF-8 (decoding repairs them) and a non-ASCII property key go
    /// through the decoded path, so both machines still agree.
    func testBytesThatAreNotPlainUTF8AreAppliedByTheDecodedPath() throws {
        let record = StateRecord.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: baseTime, events: [
            event("QQQQ", "calls", customer: "c1", ["tier": .integer(1)]),
            event("q1", "calls", customer: "ZZZZ", ["tier": .integer(1)]),
            event("q2", "calls", customer: "c1", ["tier": .integer(1), "kk": .integer(2)]),
            event("q3", "users", customer: "c1", ["user": .string("YYYY")]),
        ])
        let clean = RecordCodec.encode(record)
        for (marker, replacement) in [("QQQQ", [0xFF, 0xFE, 0x51, 0x51]), ("ZZZZ", [0x5A, 0xC3, 0x28, 0x5A]), ("kk", [0xC3, 0xA9]), ("YYYY", [0xED, 0xA0, 0x80, 0x59])] as [(String, [UInt8])] {
            var payload = clean.payload
            let needle = Array(marker.utf8)
            let at = try XCTUnwrap((0...(payload.count - needle.count)).first { Array(payload[$0..<($0 + needle.count)]) == needle }, marker)
            payload.replaceSubrange(at..<(at + needle.count), with: replacement)
            let (decoded, bytes) = pair()
            let expected = decoded.apply(try RecordCodec.decode(type: clean.type, payload: payload), sequence: 5)
            XCTAssertEqual(try bytes.apply(logRecordType: clean.type, payload: payload, sequence: 5), expected, marker)
            XCTAssertEqual(bytes.snapshot(), decoded.snapshot(), marker)
        }
    }

    /// The byte comparison the tables use (inline for up to 16 bytes, memcmp beyond): equal
    /// bytes compare equal at every length, and one changed byte at any position is seen.
    func testByteEqualityAtEveryLengthAndPosition() {
        for length in 0...40 {
            let bytes = (0..<length).map { UInt8(0x21 + ($0 * 7) % 90) }   // ASCII, so the String has these bytes
            let text = String(decoding: bytes, as: UTF8.self)
            bytes.withUnsafeBufferPointer { original in
                XCTAssertTrue(FastHash.equal(text, original), "length \(length)")
                for position in 0..<length {
                    var changed = bytes
                    changed[position] ^= 0x01
                    changed.withUnsafeBufferPointer { other in
                        XCTAssertFalse(FastHash.equal(original, other), "length \(length), byte \(position)")
                        XCTAssertFalse(FastHash.equal(text, other), "length \(length), byte \(position)")
                    }
                }
                if length > 0 {
                    XCTAssertFalse(FastHash.equal(original, UnsafeBufferPointer(rebasing: original.dropLast())), "length \(length)")
                }
            }
        }
        // Canonically equal, different bytes: equal, as `==` (and so the tables) would say.
        Array("e\u{301}".utf8).withUnsafeBufferPointer { decomposed in
            XCTAssertTrue(FastHash.equal("\u{E9}", decomposed))
        }
        Array("\u{E9}x".utf8).withUnsafeBufferPointer { other in
            XCTAssertFalse(FastHash.equal("\u{E9}", other))
        }
    }

    /// Every truncation of a payload and random changed bytes in it: the codec and the bytes
    /// path agree on each, either refusing with the same error and no change, or applying with
    /// the same outcome and snapshot.
    func testTruncatedAndDamagedPayloadsAgreeWithTheCodec() throws {
        let good = RecordCodec.encode(.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: baseTime + hour, events: batches()[0] + batches()[1]))
        var random = SplitMix64(seed: TestSeed.value)
        var variants: [[UInt8]] = (0..<good.payload.count).map { Array(good.payload.prefix($0)) }
        for _ in 0..<400 {
            var payload = good.payload
            for _ in 0...(random.next() % 3) {
                payload[Int(random.next() % UInt64(payload.count))] = UInt8(truncatingIfNeeded: random.next())
            }
            variants.append(payload)
        }
        var refused = 0, applied = 0
        for payload in variants {
            let (decoded, bytes) = pair()
            let before = bytes.snapshot()
            let expected = Result { () throws(DecodingError) in try RecordCodec.decode(type: good.type, payload: payload) }
            let actual = Result { () throws(DecodingError) in try bytes.apply(logRecordType: good.type, payload: payload, sequence: 5) }
            switch (expected, actual) {
            case (.failure(let codecError), .failure(let error)):
                XCTAssertEqual(error, codecError, "seed \(TestSeed.value)")
                XCTAssertEqual(bytes.snapshot(), before, "seed \(TestSeed.value)")
                refused += 1
            case (.success(let record), .success(let outcome)):
                XCTAssertEqual(outcome, decoded.apply(record, sequence: 5), "seed \(TestSeed.value)")
                XCTAssertEqual(bytes.snapshot(), decoded.snapshot(), "seed \(TestSeed.value)")
                applied += 1
            default:
                XCTFail("codec \(expected) but bytes path \(actual); seed \(TestSeed.value)")
            }
        }
        XCTAssertGreaterThan(refused, 100)
        XCTAssertGreaterThan(applied, 20)
    }

    /// A payload that does not decode is refused with the codec's own error, and nothing changes:
    /// the same position can then take a good record.
    func testPayloadThatDoesNotDecodeThrowsAndChangesNothing() throws {
        let record = StateRecord.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: baseTime + hour, events: batches()[1])
        let good = RecordCodec.encode(record)
        var badTag = good.payload
        // The first property's value tag of the first event: after tenant, time, count, id, name, customer, timestamp, source flag, count, key.
        var reader = BinaryReader(good.payload)
        _ = try reader.readString(); _ = try reader.readSigned(); _ = try reader.readVarint()
        _ = try reader.readString(); _ = try reader.readString(); _ = try reader.readString(); _ = try reader.readSigned()
        _ = try reader.readOptionalString(); _ = try reader.readVarint(); _ = try reader.readString()
        badTag[reader.position] = 9
        let malformed: [[UInt8]] = [Array(good.payload.dropLast()), good.payload + [0], badTag, Array(good.payload.prefix(3))]
        let (_, machine) = pair()
        let before = machine.snapshot()
        for (index, payload) in malformed.enumerated() {
            var expected: DecodingError?
            XCTAssertThrowsError(try RecordCodec.decode(type: good.type, payload: payload)) { expected = $0 as? DecodingError }
            XCTAssertThrowsError(try machine.apply(logRecordType: good.type, payload: payload, sequence: 5), "payload \(index)") { error in
                XCTAssertEqual(error as? DecodingError, expected, "payload \(index)")
            }
            XCTAssertEqual(machine.snapshot(), before, "payload \(index) changed the state")
            XCTAssertEqual(machine.lastAppliedSequence, 4)
        }
        XCTAssertNoThrow(try machine.apply(logRecordType: good.type, payload: good.payload, sequence: 5))
        XCTAssertEqual(machine.lastAppliedSequence, 5)
    }
}
