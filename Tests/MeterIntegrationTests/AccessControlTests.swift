import Foundation
import MeterProto
import MeterWire
import NIOCore
import SwiftProtobuf
import MeterTestSupport
import XCTest

/// Access control over real sockets (docs/security.md): API keys, roles, tenants from the
/// credential, revocation on open connections, bad credentials, keys across restarts, audit.
final class AccessControlTests: XCTestCase {
    /// Every method with a request that decodes, so that a refusal can only come from access control.
    static let everyMethod: [(MethodID, any SwiftProtobuf.Message)] = [
        (.createMeter, Meterd_V1_CreateMeterRequest()), (.getMeter, Meterd_V1_GetMeterRequest()),
        (.listMeters, Meterd_V1_ListMetersRequest()), (.updateMeter, Meterd_V1_UpdateMeterRequest()),
        (.archiveMeter, Meterd_V1_ArchiveMeterRequest()), (.ingest, Meterd_V1_IngestRequest()),
        (.ingestBatch, Meterd_V1_IngestBatchRequest()), (.queryUsage, Meterd_V1_QueryUsageRequest()),
        (.currentUsage, Meterd_V1_CurrentUsageRequest()), (.healthCheck, Meterd_V1_HealthCheckRequest()),
        (.serverInfo, Meterd_V1_ServerInfoRequest()), (.createApiKey, Meterd_V1_CreateApiKeyRequest()),
        (.listApiKeys, Meterd_V1_ListApiKeysRequest()), (.revokeApiKey, Meterd_V1_RevokeApiKeyRequest()),
        (.listAuditEntries, Meterd_V1_ListAuditEntriesRequest()),
        (.setEntitlement, Meterd_V1_SetEntitlementRequest()), (.listEntitlements, Meterd_V1_ListEntitlementsRequest()),
        (.removeEntitlement, Meterd_V1_RemoveEntitlementRequest()), (.addGrant, Meterd_V1_AddGrantRequest()),
        (.removeGrant, Meterd_V1_RemoveGrantRequest()), (.checkEntitlement, Meterd_V1_CheckEntitlementRequest()),
        (.addThresholdRule, Meterd_V1_AddThresholdRuleRequest()), (.listThresholdRules, Meterd_V1_ListThresholdRulesRequest()),
        (.removeThresholdRule, Meterd_V1_RemoveThresholdRuleRequest()), (.listNotifications, Meterd_V1_ListNotificationsRequest()),
        (.getWebhookStatus, Meterd_V1_GetWebhookStatusRequest()),
    ]

    static let allowed: [Meterd_V1_KeyRole: Set<MethodID>] = [
        .admin: Set(MethodID.all),
        .ingest: [.ingest, .ingestBatch],
        .read: [.getMeter, .listMeters, .queryUsage, .currentUsage, .healthCheck, .serverInfo, .checkEntitlement, .listNotifications,
                .watchNotifications],
    ]

    /// Creates a key through the socket owner's connection (admin of `tenant` without a key).
    static func createKey(_ server: ServerProcess, tenant: String = "default", name: String, role: Meterd_V1_KeyRole) throws -> Meterd_V1_CreateApiKeyResponse {
        let owner = try RawWireClient(.unix(server.socketPath))
        try owner.handshake(tenant: tenant)
        var request = Meterd_V1_CreateApiKeyRequest()
        request.name = name
        request.role = role
        return try owner.call(.createApiKey, request, as: Meterd_V1_CreateApiKeyResponse.self).get()
    }

    /// Sends one request and returns the RESPONSE's status code.
    static func status(_ client: RawWireClient, _ method: MethodID, _ request: some SwiftProtobuf.Message, stream: UInt32) throws -> StatusCode {
        try client.send(WireFrame(type: .request, code: method.rawValue, streamId: stream, payload: try ProtobufPayload.encode(request)))
        let reply = try XCTUnwrap(try client.readFrame(), "connection closed instead of answering \(method)")
        XCTAssertEqual(reply.type, .response, client.goAwayReason(reply))
        return StatusCode(rawValue: reply.code)
    }

    func testNewDataDirectoryGetsABootstrapKeyAndTcpNeedsAKey() throws {
        let server = try ServerProcess(self)
        defer { XCTAssertEqual(server.stop(), 0) }
        let path = server.directory + "/data/bootstrap-admin.key"
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertTrue(server.bootstrapKey.hasPrefix("mk_") && server.bootstrapKey.count == 46, server.bootstrapKey)

        let anonymous = try RawWireClient(.tcp(port: server.tcpPort))
        let refusal = try anonymous.refusedHandshake()
        XCTAssertEqual(refusal.code, .unauthenticated)
        XCTAssertTrue(refusal.reason.contains("API key is required on TCP"), refusal.reason)

        let admin = try RawWireClient(.tcp(port: server.tcpPort))
        let acknowledgement = try admin.handshake(tenant: "", credential: server.bootstrapKey)
        XCTAssertEqual(acknowledgement.tenantID, "default")
        XCTAssertEqual(acknowledgement.role, .admin)
        XCTAssertEqual(acknowledgement.principal, "key key_1")
        let keys = try admin.call(.listApiKeys, Meterd_V1_ListApiKeysRequest(), as: Meterd_V1_ListApiKeysResponse.self).get().keys
        XCTAssertEqual(keys.map(\.id), ["key_1"])
        XCTAssertEqual(keys.first?.createdBy, "bootstrap")

        // The socket owner needs no key and may act for any tenant.
        let owner = try RawWireClient(.unix(server.socketPath))
        let ownerAcknowledgement = try owner.handshake(tenant: "acme")
        XCTAssertEqual(ownerAcknowledgement.tenantID, "acme")
        XCTAssertEqual(ownerAcknowledgement.principal, "uid \(getuid())")
    }

    func testRoleMethodMatrixOverTcp() throws {
        let server = try ServerProcess(self)
        defer { XCTAssertEqual(server.stop(), 0) }
        for role in [Meterd_V1_KeyRole.admin, .ingest, .read] {
            let key = try Self.createKey(server, name: "matrix \(role)", role: role)
            let client = try RawWireClient(.tcp(port: server.tcpPort))
            XCTAssertEqual(try client.handshake(tenant: "", credential: key.secret).role, role)
            var stream: UInt32 = 1
            for (method, request) in Self.everyMethod {
                let status = try Self.status(client, method, request, stream: stream)
                stream += 2
                if Self.allowed[role]!.contains(method) {
                    XCTAssertFalse([StatusCode.permissionDenied, .unauthenticated].contains(status), "\(role) \(method): \(status)")
                } else {
                    XCTAssertEqual(status, .permissionDenied, "\(role) \(method)")
                }
            }
            // WatchNotifications, a server stream: an allowed role gets an open stream (no
            // notification exists, so nothing comes until CANCEL ends it CANCELLED).
            let watch = WireFrame(type: .request, code: MethodID.watchNotifications.rawValue, streamId: stream,
                                  payload: try ProtobufPayload.encode(Meterd_V1_WatchNotificationsRequest()))
            try client.send(watch)
            if Self.allowed[role]!.contains(.watchNotifications) {
                try client.send(WireFrame(type: .cancel, streamId: stream, payload: ByteBuffer()))
                let end = try XCTUnwrap(try client.readFrame())
                XCTAssertEqual(end.type, .response, client.goAwayReason(end))
                XCTAssertEqual(StatusCode(rawValue: end.code), .cancelled, "\(role) WatchNotifications")
            } else {
                let refusal = try XCTUnwrap(try client.readFrame())
                XCTAssertEqual(StatusCode(rawValue: refusal.code), .permissionDenied, "\(role) WatchNotifications")
            }
        }
    }

    func testTenantComesFromTheKeyAndOtherTenantsAreOutOfReach() throws {
        let server = try ServerProcess(self)
        defer { XCTAssertEqual(server.stop(), 0) }
        let acme = try Self.createKey(server, tenant: "acme", name: "acme admin", role: .admin)
        let globex = try Self.createKey(server, tenant: "globex", name: "globex admin", role: .admin)
        XCTAssertEqual(acme.key.tenantID, "acme")

        let acmeClient = try RawWireClient(.tcp(port: server.tcpPort))
        XCTAssertEqual(try acmeClient.handshake(tenant: "", credential: acme.secret).tenantID, "acme")
        _ = try acmeClient.call(.createMeter, ServerEndToEndTests.guideMeter(), as: Meterd_V1_CreateMeterResponse.self).get()
        var batch = Meterd_V1_IngestBatchRequest()
        batch.events = [ServerEndToEndTests.event("acme-1", customer: "c1", tokens: "7")]
        _ = try acmeClient.call(.ingestBatch, batch, as: Meterd_V1_IngestBatchResponse.self).get()

        // Naming another tenant than the key's is refused, whatever the key's role.
        let impostor = try RawWireClient(.tcp(port: server.tcpPort))
        let refusal = try impostor.refusedHandshake(tenant: "acme", credential: globex.secret)
        XCTAssertEqual(refusal.code, .permissionDenied)
        XCTAssertTrue(refusal.reason.contains("belongs to tenant globex"), refusal.reason)

        // With its own tenant, globex sees nothing of acme's and cannot touch it.
        let globexClient = try RawWireClient(.unix(server.socketPath))
        XCTAssertEqual(try globexClient.handshake(tenant: "", credential: globex.secret).tenantID, "globex")
        XCTAssertTrue(try globexClient.call(.listMeters, Meterd_V1_ListMetersRequest(), as: Meterd_V1_ListMetersResponse.self).get().meters.isEmpty)
        var get = Meterd_V1_GetMeterRequest()
        get.meter.eventName = "tokens_used"
        XCTAssertEqual(try globexClient.call(.getMeter, get, as: Meterd_V1_GetMeterResponse.self).failureCode, 5)
        var archive = Meterd_V1_ArchiveMeterRequest()
        archive.meter.id = "mtr_1"
        XCTAssertEqual(try globexClient.call(.archiveMeter, archive, as: Meterd_V1_ArchiveMeterResponse.self).failureCode, 5)
        XCTAssertEqual(try globexClient.call(.listApiKeys, Meterd_V1_ListApiKeysRequest(), as: Meterd_V1_ListApiKeysResponse.self).get().keys.map(\.id), [globex.key.id])
        var revoke = Meterd_V1_RevokeApiKeyRequest()
        revoke.id = acme.key.id
        XCTAssertEqual(try globexClient.call(.revokeApiKey, revoke, as: Meterd_V1_RevokeApiKeyResponse.self).failureCode, 5)
        // Events sent with globex's key land in globex, not in acme's meter.
        batch.events = [ServerEndToEndTests.event("globex-1", customer: "c1", tokens: "1000")]
        _ = try globexClient.call(.ingestBatch, batch, as: Meterd_V1_IngestBatchResponse.self).get()
        XCTAssertEqual(try ServerEndToEndTests.currentUsage(acmeClient, customer: "c1"), "7")
        // acme's key still works after all that.
        XCTAssertEqual(try acmeClient.call(.listMeters, Meterd_V1_ListMetersRequest(), as: Meterd_V1_ListMetersResponse.self).get().meters.count, 1)
    }

    func testRevokedKeyIsRefusedOnAConnectionOpenedBeforeTheRevoke() throws {
        let server = try ServerProcess(self)
        defer { XCTAssertEqual(server.stop(), 0) }
        let key = try Self.createKey(server, name: "sidecar", role: .ingest)
        let owner = try RawWireClient(.unix(server.socketPath))
        try owner.handshake()
        _ = try owner.call(.createMeter, ServerEndToEndTests.guideMeter(), as: Meterd_V1_CreateMeterResponse.self).get()
        let open = try RawWireClient(.tcp(port: server.tcpPort))
        try open.handshake(tenant: "", credential: key.secret)
        var batch = Meterd_V1_IngestBatchRequest()
        batch.events = [ServerEndToEndTests.event("before-revoke", tokens: "1")]
        XCTAssertEqual(try Self.status(open, .ingestBatch, batch, stream: 1), .ok)

        var revoke = Meterd_V1_RevokeApiKeyRequest()
        revoke.id = key.key.id
        let revoked = try owner.call(.revokeApiKey, revoke, as: Meterd_V1_RevokeApiKeyResponse.self).get().key
        XCTAssertNotEqual(revoked.revokedAtMs, 0)
        XCTAssertEqual(try owner.call(.revokeApiKey, revoke, as: Meterd_V1_RevokeApiKeyResponse.self).failureCode, 9, "a second revoke")

        batch.events = [ServerEndToEndTests.event("after-revoke", tokens: "1")]
        XCTAssertEqual(try Self.status(open, .ingestBatch, batch, stream: 3), .unauthenticated)
        XCTAssertEqual(try Self.status(open, .ingest, Meterd_V1_IngestRequest(), stream: 5), .unauthenticated)
        let fresh = try RawWireClient(.tcp(port: server.tcpPort))
        let refusal = try fresh.refusedHandshake(credential: key.secret)
        XCTAssertEqual(refusal.code, .unauthenticated)
        XCTAssertTrue(refusal.reason.contains("\(key.key.id) is revoked"), refusal.reason)
        // Only the event sent before the revoke was written.
        XCTAssertEqual(try ServerEndToEndTests.currentUsage(owner, customer: "acme"), "1")
    }

    func testWrongEmptyOversizedAndGarbageCredentialsAreRefusedSlowlyAndCounted() throws {
        let server = try ServerProcess(self, arguments: ["--refused-handshake-delay-ms", "300", "--metrics", "127.0.0.1:0"])
        defer { XCTAssertEqual(server.stop(), 0) }
        let wrong = "mk_" + String(repeating: "A", count: 43)
        let cases: [(credential: String, expected: String)] = [
            (wrong, "unknown API key"),
            ("", "API key is required on TCP"),
            (String(repeating: "k", count: 100_000), "longer than 256 bytes"),
            ("☃ not a key \u{1}\u{2}", "not a meterd API key"),
            (server.bootstrapKey + "x", "not a meterd API key"),
        ]
        for (credential, expected) in cases {
            let client = try RawWireClient(.tcp(port: server.tcpPort))
            let started = ContinuousClock.now
            let refusal = try client.refusedHandshake(credential: credential)
            let waited = ContinuousClock.now - started
            XCTAssertEqual(refusal.code, .unauthenticated, expected)
            XCTAssertTrue(refusal.reason.contains(expected), "\(refusal.reason) should say \(expected)")
            XCTAssertGreaterThanOrEqual(waited, .milliseconds(300), "refusals are slowed down")
        }
        // Bytes that are not UTF-8 in the credential do not decode as a Handshake at all.
        let raw = try RawWireClient(.tcp(port: server.tcpPort))
        try raw.send(WirePreface.bytes)
        let payload: [UInt8] = [0x08, 0x01, 0x22, 0x03, 0xFF, 0xFE, 0xFD]
        try raw.send(WireFrame(type: .handshake, payload: ByteBuffer(bytes: payload)))
        let goAway = try XCTUnwrap(try raw.readFrame())
        XCTAssertEqual(goAway.type, .goAway)

        // The right key still works, and the failures were counted by reason.
        let good = try RawWireClient(.tcp(port: server.tcpPort))
        XCTAssertEqual(try good.handshake(tenant: "", credential: server.bootstrapKey).role, .admin)
        let metricsPort = try XCTUnwrap(server.metricsPort)
        let samples = PrometheusSamples(try OperationsTests.httpGet(port: metricsPort, path: "/metrics").body)
        XCTAssertEqual(samples["meterd_authentication_failures_total{reason=\"unknown\"}"], 1)
        XCTAssertEqual(samples["meterd_authentication_failures_total{reason=\"missing\"}"], 1)
        XCTAssertEqual(samples["meterd_authentication_failures_total{reason=\"oversized\"}"], 1)
        XCTAssertEqual(samples["meterd_authentication_failures_total{reason=\"malformed\"}"], 2)
        let errors = server.stopCollectingErrors()
        XCTAssertEqual(errors.status, 0)
        // Logged, but rate-limited: one line for the burst, not one per failure.
        let lines = errors.errorOutput.split(separator: "\n").filter { $0.contains("authentication failed") }
        XCTAssertEqual(lines.count, 1, errors.errorOutput)
    }

    func testKeysSurviveReplayAndSnapshot() throws {
        let server = try ServerProcess(self)
        let admin = try Self.createKey(server, name: "ops", role: .admin)
        let ingest = try Self.createKey(server, name: "sidecar", role: .ingest)
        let owner = try RawWireClient(.unix(server.socketPath))
        try owner.handshake()
        var revoke = Meterd_V1_RevokeApiKeyRequest()
        revoke.id = ingest.key.id
        _ = try owner.call(.revokeApiKey, revoke, as: Meterd_V1_RevokeApiKeyResponse.self).get()

        func check(_ stage: String) throws {
            let client = try RawWireClient(.tcp(port: server.tcpPort))
            XCTAssertEqual(try client.handshake(tenant: "", credential: admin.secret).principal, "key \(admin.key.id)", stage)
            XCTAssertEqual(try RawWireClient(.tcp(port: server.tcpPort)).refusedHandshake(credential: ingest.secret).code, .unauthenticated, stage)
            XCTAssertEqual(try RawWireClient(.tcp(port: server.tcpPort)).handshake(tenant: "", credential: server.bootstrapKey).role, .admin, stage)
            var list = Meterd_V1_ListApiKeysRequest()
            list.includeRevoked = true
            let keys = try client.call(.listApiKeys, list, as: Meterd_V1_ListApiKeysResponse.self).get().keys
            XCTAssertEqual(keys.map(\.id), ["key_1", admin.key.id, ingest.key.id], stage)
            XCTAssertEqual(keys.map { $0.revokedAtMs != 0 }, [false, false, true], stage)
        }

        // kill -9: no final snapshot, the keys come back by replaying the log.
        server.child.signal(SIGKILL)
        _ = server.child.wait()
        try server.restart()
        try check("after replay")
        // A graceful stop writes a snapshot; the next start replays nothing after it.
        XCTAssertEqual(server.stop(), 0)
        try server.restart()
        XCTAssertTrue(server.startLines.contains { $0.contains("+ 0 log records") }, "\(server.startLines)")
        try check("after snapshot")
        XCTAssertEqual(server.stop(), 0)
    }

    func testAuditTrailNamesWhoDidEachAdminAction() throws {
        let server = try ServerProcess(self)
        defer { XCTAssertEqual(server.stop(), 0) }
        let admin = try Self.createKey(server, name: "ops", role: .admin)
        let client = try RawWireClient(.tcp(port: server.tcpPort))
        try client.handshake(tenant: "", credential: admin.secret)
        let meter = try client.call(.createMeter, ServerEndToEndTests.guideMeter(), as: Meterd_V1_CreateMeterResponse.self).get().meter
        var update = Meterd_V1_UpdateMeterRequest()
        update.meter.id = meter.id
        update.displayName = "Tokens"
        _ = try client.call(.updateMeter, update, as: Meterd_V1_UpdateMeterResponse.self).get()
        var archive = Meterd_V1_ArchiveMeterRequest()
        archive.meter.id = meter.id
        _ = try client.call(.archiveMeter, archive, as: Meterd_V1_ArchiveMeterResponse.self).get()
        var create = Meterd_V1_CreateApiKeyRequest()
        create.name = "reader"
        create.role = .read
        let reader = try client.call(.createApiKey, create, as: Meterd_V1_CreateApiKeyResponse.self).get()
        var revoke = Meterd_V1_RevokeApiKeyRequest()
        revoke.id = reader.key.id
        _ = try client.call(.revokeApiKey, revoke, as: Meterd_V1_RevokeApiKeyResponse.self).get()

        let all = try client.call(.listAuditEntries, Meterd_V1_ListAuditEntriesRequest(), as: Meterd_V1_ListAuditEntriesResponse.self).get().entries
        XCTAssertEqual(all.map(\.action), ["key.create", "key.create", "meter.create", "meter.update", "meter.archive", "key.create", "key.revoke"])
        XCTAssertEqual(all.map(\.actor), ["bootstrap", "uid \(getuid())", "key \(admin.key.id)", "key \(admin.key.id)", "key \(admin.key.id)", "key \(admin.key.id)", "key \(admin.key.id)"])
        XCTAssertEqual(all[3].detail, "display name: Tokens")
        XCTAssertTrue(all.allSatisfy { $0.atMs > 0 && $0.sequence > 0 })

        var byMeter = Meterd_V1_ListAuditEntriesRequest()
        byMeter.meter.eventName = "tokens_used"
        XCTAssertEqual(try client.call(.listAuditEntries, byMeter, as: Meterd_V1_ListAuditEntriesResponse.self).get().entries.map(\.action),
                       ["meter.create", "meter.update", "meter.archive"])
        var byKey = Meterd_V1_ListAuditEntriesRequest()
        byKey.keyID = reader.key.id
        XCTAssertEqual(try client.call(.listAuditEntries, byKey, as: Meterd_V1_ListAuditEntriesResponse.self).get().entries.map(\.action),
                       ["key.create", "key.revoke"])
        var byTime = Meterd_V1_ListAuditEntriesRequest()
        byTime.fromMs = all[5].atMs
        byTime.toMs = all[5].atMs + 1
        XCTAssertTrue(try client.call(.listAuditEntries, byTime, as: Meterd_V1_ListAuditEntriesResponse.self).get().entries.contains { $0.targetID == reader.key.id })
        // Another tenant's trail is its own.
        let other = try RawWireClient(.unix(server.socketPath))
        try other.handshake(tenant: "globex")
        XCTAssertTrue(try other.call(.listAuditEntries, Meterd_V1_ListAuditEntriesRequest(), as: Meterd_V1_ListAuditEntriesResponse.self).get().entries.isEmpty)
    }
}

extension Result where Failure == Meterd_V1_ErrorDetail {
    /// The error's status code number, or nil on success.
    var failureCode: UInt32? {
        if case .failure(let detail) = self { return detail.code }
        return nil
    }
}
