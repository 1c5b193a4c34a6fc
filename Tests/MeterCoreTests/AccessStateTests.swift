@testable import MeterCore
import XCTest

/// API keys and the audit trail in the state machine: ids in log order, validation on apply,
/// record codec round trips, and replay/snapshot determinism with keys and attributed changes.
final class AccessStateTests: XCTestCase {
    static func definition(_ name: String, tenant: String = "acme", role: KeyRole = .ingest, hashByte: UInt8 = 1) -> ApiKeyDefinition {
        ApiKeyDefinition(tenantId: tenant, name: name, role: role, secretHash: Array(repeating: hashByte, count: 32))
    }

    /// A history with keys, an attributed meter life cycle and events.
    static func history() -> [StateRecord] {
        let meter = MeterDefinition(tenantId: "acme", eventName: "calls", displayName: "Calls", aggregation: .count)
        return [
            .apiKeyCreated(definition("bootstrap admin", role: .admin, hashByte: 9), createdBy: .bootstrap, atMilliseconds: baseTime),
            .apiKeyCreated(definition("sidecar"), createdBy: .apiKey(id: "key_1"), atMilliseconds: baseTime + 1),
            .audited(.apiKey(id: "key_1"), .meterCreated(meter, atMilliseconds: baseTime + 2)),
            .eventsAccepted(tenantId: "acme", acceptedAtMilliseconds: baseTime + 3, events: [event("e1", "calls")]),
            .audited(.localUser(uid: 1000), .meterDisplayNameChanged(tenantId: "acme", meterId: "mtr_1", displayName: "API calls", atMilliseconds: baseTime + 4)),
            .apiKeyRevoked(tenantId: "acme", keyId: "key_2", revokedBy: .localUser(uid: 1000), atMilliseconds: baseTime + 5),
            .audited(.apiKey(id: "key_1"), .meterArchived(tenantId: "acme", meterId: "mtr_1", atMilliseconds: baseTime + 6)),
        ]
    }

    func testKeysGetIdsInLogOrderAndRevocationIsValidated() {
        let harness = Harness()
        for record in Self.history() { harness.apply(record) }
        let keys = harness.machine.apiKeys
        XCTAssertEqual(keys.map(\.id), ["key_1", "key_2"])
        XCTAssertEqual(keys.map(\.isRevoked), [false, true])
        XCTAssertEqual(keys[1].createdBy, .apiKey(id: "key_1"))
        XCTAssertThrowsError(try harness.machine.validateKeyRevoke(tenantId: "acme", keyId: "key_2"))
        XCTAssertThrowsError(try harness.machine.validateKeyRevoke(tenantId: "globex", keyId: "key_1"), "another tenant's key")
        XCTAssertThrowsError(try harness.machine.validateKeyCreate(Self.definition("short hash", hashByte: 1).with { $0.secretHash = [1, 2] }))
        XCTAssertThrowsError(try harness.machine.validateKeyCreate(Self.definition(" padded")))
        guard case .refused(let error) = harness.apply(.apiKeyRevoked(tenantId: "acme", keyId: "key_2", revokedBy: .bootstrap, atMilliseconds: baseTime + 7)) else {
            return XCTFail("a second revoke applied")
        }
        XCTAssertEqual(error.code, .keyRevoked)
        XCTAssertEqual(harness.machine.apiKeys(tenantId: "acme", includeRevoked: false).map(\.id), ["key_1"])
        XCTAssertTrue(harness.machine.apiKeys(tenantId: "globex", includeRevoked: true).isEmpty)
    }

    func testAuditTrailRecordsAppliedAdminActionsOnly() {
        let harness = Harness()
        for record in Self.history() { harness.apply(record) }
        // A refused attributed change leaves no entry.
        harness.apply(.audited(.apiKey(id: "key_1"), .meterArchived(tenantId: "acme", meterId: "mtr_1", atMilliseconds: baseTime + 8)))
        let entries = harness.machine.auditEntries(AuditQuery(tenantId: "acme"))
        XCTAssertEqual(entries.map(\.action), [.keyCreated, .keyCreated, .meterCreated, .meterUpdated, .keyRevoked, .meterArchived])
        XCTAssertEqual(entries.map(\.sequence), [1, 2, 3, 5, 6, 7])
        XCTAssertEqual(entries[3].actor, .localUser(uid: 1000))
        XCTAssertEqual(entries[3].detail, "display name: API calls")
        XCTAssertEqual(harness.machine.auditEntries(AuditQuery(tenantId: "acme", meterId: "mtr_1")).map(\.action), [.meterCreated, .meterUpdated, .meterArchived])
        XCTAssertEqual(harness.machine.auditEntries(AuditQuery(tenantId: "acme", keyId: "key_2")).map(\.action), [.keyCreated, .keyRevoked])
        XCTAssertEqual(harness.machine.auditEntries(AuditQuery(tenantId: "acme", fromMilliseconds: baseTime + 4, toMilliseconds: baseTime + 6)).map(\.sequence), [5, 6])
        XCTAssertEqual(harness.machine.auditEntries(AuditQuery(tenantId: "acme", limit: 2)).map(\.sequence), [6, 7])
        XCTAssertTrue(harness.machine.auditEntries(AuditQuery(tenantId: "globex")).isEmpty)
    }

    func testRecordsRoundTripThroughTheCodec() throws {
        for record in Self.history() {
            let encoded = RecordCodec.encode(record)
            XCTAssertEqual(try RecordCodec.decode(type: encoded.type, payload: encoded.payload), record)
        }
        // An audited record may only wrap a meter change.
        var bytes = RecordCodec.encode(.audited(.bootstrap, .meterArchived(tenantId: "a", meterId: "m", atMilliseconds: 1))).payload
        bytes[1] = RecordCodec.eventsAcceptedType
        XCTAssertThrowsError(try RecordCodec.decode(type: RecordCodec.auditedType, payload: bytes))
    }

    func testReplayAndSnapshotGiveIdenticalStateWithKeysAndAudit() throws {
        let first = Harness()
        let second = Harness()
        for record in Self.history() {
            first.apply(record)
            let encoded = RecordCodec.encode(record)
            second.apply(try RecordCodec.decode(type: encoded.type, payload: encoded.payload))
        }
        let bytes = first.machine.snapshot()
        XCTAssertEqual(bytes, second.machine.snapshot())
        let restored = try MeterStateMachine(snapshot: bytes)
        XCTAssertEqual(restored.snapshot(), bytes)
        XCTAssertEqual(restored.apiKeys, first.machine.apiKeys)
        XCTAssertEqual(restored.auditEntries(AuditQuery(tenantId: "acme")), first.machine.auditEntries(AuditQuery(tenantId: "acme")))
        // Key numbers continue after a restore.
        guard case .apiKeyChanged(let key) = restored.apply(.apiKeyCreated(Self.definition("later", hashByte: 3), createdBy: .bootstrap, atMilliseconds: baseTime + 9), sequence: 100) else {
            return XCTFail("key not created after restore")
        }
        XCTAssertEqual(key.id, "key_3")
    }

    func testVersionTwoSnapshotsWithoutKeysStillLoad() throws {
        let harness = Harness()
        try harness.create(MeterDefinition(tenantId: "acme", eventName: "calls", displayName: "Calls", aggregation: .count))
        let current = harness.machine.snapshot()
        // Version 2 is version 3 without the access section (next key number 1, no keys, no audit);
        // version 3 is version 4 without the entitlement section (no entitlements, next grant
        // number 1, no grants, next rule number 1, no rules, no crossings, no notifications).
        XCTAssertEqual(Array(current.suffix(10)), [1, 0, 0, 0, 1, 0, 1, 0, 0, 0])
        XCTAssertEqual(current[0], 4)
        var versionThree = Array(current.dropLast(7))
        versionThree[0] = 3
        XCTAssertEqual(try MeterStateMachine(snapshot: versionThree).snapshot(), current)
        var versionTwo = Array(current.dropLast(10))
        versionTwo[0] = 2
        let restored = try MeterStateMachine(snapshot: versionTwo)
        XCTAssertEqual(restored.snapshot(), current)
        versionTwo[0] = 5
        XCTAssertThrowsError(try MeterStateMachine(snapshot: versionTwo))
    }
}

private extension ApiKeyDefinition {
    func with(_ change: (inout ApiKeyDefinition) -> Void) -> ApiKeyDefinition {
        var copy = self
        change(&copy)
        return copy
    }
}
