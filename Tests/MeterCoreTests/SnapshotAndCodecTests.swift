import MeterCore
import XCTest

final class SnapshotAndCodecTests: XCTestCase {
    private func populatedHarness() throws -> Harness {
        let harness = Harness()
        try harness.create(MeterDefinition(eventName: "tokens_used", displayName: "Tokens Used",
                                           filters: [MeterFilter(key: "model", values: ["llama3.1", "llama3.2"])],
                                           aggregation: .sum("tokens", multiplier: decimal("1.5")), reset: .monthly, groupBy: ["model"]))
        try harness.create(MeterDefinition(eventName: "users", displayName: "Users", aggregation: Aggregation(kind: .countUnique, field: "user")))
        let latest = try harness.create(MeterDefinition(tenantId: "globex", eventName: "storage", displayName: "Storage", aggregation: Aggregation(kind: .latest, field: "gb")))
        for round in 0..<5 {
            let now = baseTime + Int64(round) * 30 * hour
            var events: [UsageEvent] = []
            for index in 0..<50 {
                let name = index % 2 == 0 ? "tokens_used" : "users"
                let model = index % 3 == 0 ? "llama3.1" : "llama3.2"
                let properties: [String: PropertyValue] = [
                    "tokens": .decimal(decimal("\(index).25")), "model": .string(model), "user": .string("u\(index % 5)"),
                ]
                events.append(event("r\(round)-\(index)", name, customer: "c\(index % 7)", at: now - Int64(index) * minute, properties))
            }
            harness.ingest(events, now: now)
            harness.ingest([event("g\(round)", "storage", at: now, ["gb": .integer(Int64(round))])], tenant: "globex", now: now)
        }
        harness.apply(.meterArchived(tenantId: "globex", meterId: latest.id, atMilliseconds: baseTime + 200 * hour))
        return harness
    }

    private func answers(_ machine: MeterStateMachine) throws -> [[UsageRow]] {
        var all: [[UsageRow]] = []
        for (tenant, name) in [(Tenant.defaultId, "tokens_used"), (Tenant.defaultId, "users"), ("globex", "storage")] {
            for window: WindowSize? in [nil, .hour, .day] {
                all.append(try machine.usage(UsageQuery(tenantId: tenant, meter: .eventName(name), fromMilliseconds: baseTime - 2 * 24 * hour,
                                                        toMilliseconds: baseTime + 8 * 24 * hour, windowSize: window, groupByCustomer: true)).rows)
            }
        }
        return all
    }

    /// The engine puts eventsAccepted records together from events encoded ahead of time; the
    /// bytes must be exactly what `RecordCodec.encode` writes for the record.
    func testRecordsPutTogetherFromEncodedEventsMatchEncode() throws {
        let events = (0..<40).map { index -> UsageEvent in
            var made = event("id-\(index)-\(String(repeating: "x", count: index * 7))", index % 3 == 0 ? "tokens_used" : "users",
                             customer: "c\(index % 5)é", at: baseTime - Int64(index) * minute,
                             ["tokens": .decimal(decimal("\(index).25")), "model": .string("llama3.\(index % 3)"),
                              "n": .integer(Int64(index) - 20), "flag": .boolean(index % 2 == 0)])
            if index % 4 == 0 { made.source = "sidecar-\(index)" }
            return made
        }
        let encoded = EncodedEvents(events)
        XCTAssertEqual(encoded.count, events.count)
        for positions in [nil, [], [0], [39], Array(stride(from: 1, to: 40, by: 3)), Array(0..<40)] as [[Int]?] {
            let chosen = positions.map { $0.map { events[$0] } } ?? events
            let expected = RecordCodec.encode(.eventsAccepted(tenantId: "globex", acceptedAtMilliseconds: baseTime, events: chosen))
            let payload = RecordCodec.eventsAcceptedPayload(tenantId: "globex", acceptedAtMilliseconds: baseTime, encoded: encoded, positions: positions)
            XCTAssertEqual(expected.type, RecordCodec.eventsAcceptedType)
            XCTAssertEqual(payload, expected.payload, "positions \(String(describing: positions))")
            XCTAssertEqual(try RecordCodec.decode(type: expected.type, payload: payload),
                           .eventsAccepted(tenantId: "globex", acceptedAtMilliseconds: baseTime, events: chosen))
        }
    }

    func testSnapshotRoundTripGivesIdenticalAnswersAndBytes() throws {
        let harness = try populatedHarness()
        let bytes = harness.machine.snapshot()
        let restored = try MeterStateMachine(snapshot: bytes)
        XCTAssertEqual(restored.snapshot(), bytes)
        XCTAssertEqual(try answers(restored), try answers(harness.machine))
        XCTAssertEqual(restored.meters(tenantId: "globex"), harness.machine.meters(tenantId: "globex"))
        // Dedup memory survives the snapshot.
        var pending = Set<String>()
        XCTAssertEqual(restored.screen([event("r4-0", at: baseTime + 120 * hour)], tenantId: Tenant.defaultId, nowMilliseconds: baseTime + 120 * hour, pendingEventIds: &pending), [.duplicate])
        // And both keep evolving identically.
        let more = [event("after", at: baseTime + 121 * hour, ["tokens": .integer(3), "model": .string("llama3.1")])]
        let record = StateRecord.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: baseTime + 121 * hour, events: more)
        harness.machine.apply(record, sequence: harness.sequence + 1)
        restored.apply(record, sequence: harness.sequence + 1)
        XCTAssertEqual(restored.snapshot(), harness.machine.snapshot())
    }

    func testReplayingTheRecordsGivesIdenticalState() throws {
        let harness = try populatedHarness()
        let replayed = MeterStateMachine()
        for (index, record) in harness.records.enumerated() {
            let encoded = RecordCodec.encode(record)
            let decoded = try RecordCodec.decode(type: encoded.type, payload: encoded.payload)
            XCTAssertEqual(decoded, record)
            replayed.apply(decoded, sequence: UInt64(index + 1))
        }
        XCTAssertEqual(replayed.snapshot(), harness.machine.snapshot())
    }

    func testCorruptSnapshotsAndRecordsThrowInsteadOfCrashing() throws {
        let bytes = try populatedHarness().machine.snapshot()
        var generator = SystemRandomNumberGenerator()
        for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 200)) {
            XCTAssertThrowsError(try MeterStateMachine(snapshot: Array(bytes[..<cut])))
        }
        // Bit flips may still decode (the log's CRC is what catches them); they must never crash.
        for _ in 0..<200 {
            var damaged = bytes
            let position = Int.random(in: 0..<damaged.count, using: &generator)
            damaged[position] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
            _ = try? MeterStateMachine(snapshot: damaged)
        }
        let record = RecordCodec.encode(.eventsAccepted(tenantId: "t", acceptedAtMilliseconds: 1, events: [event("x", ["a": .integer(1)])]))
        for cut in 0..<record.payload.count {
            XCTAssertThrowsError(try RecordCodec.decode(type: record.type, payload: Array(record.payload[..<cut])))
        }
        XCTAssertThrowsError(try RecordCodec.decode(type: 99, payload: record.payload))
        XCTAssertThrowsError(try RecordCodec.decode(type: record.type, payload: record.payload + [0]))
    }
}
