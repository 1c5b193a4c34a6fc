import Foundation
import MeterClient
import MeterProto
import MeterTestSupport
import XCTest

/// Entitlements, threshold rules and notifications through a real meterd child process:
/// crossings raised exactly once across SIGKILL restarts, the ListNotifications long poll woken
/// by the crossing ingest, CheckEntitlement before and after the crossing, grants, meterctl.
final class EntitlementEndToEndTests: XCTestCase {
    private static let meter = MeterClient.reference("api_call")

    private func connect(_ server: ServerProcess) async throws -> MeterClient {
        try await MeterClient.connect(to: .unixSocket(path: server.socketPath))
    }

    private func ingest(_ client: MeterClient, _ ids: [String]) async throws {
        let response = try await client.ingestBatch(ids.map { SidecarEndToEndTests.event($0) })
        XCTAssertEqual(response.rejected, 0)
    }

    private func notificationRules(_ client: MeterClient) async throws -> [String] {
        try await client.listNotifications(afterNumber: 0, limit: 100).notifications.map(\.ruleID)
    }

    /// IngestBatch with include_entitlement_effects: the event reaching a hard limit reports
    /// crossed and no access, the next one no access; without the flag the reply carries none.
    func testIngestBatchReportsEachEventsEntitlementEffect() async throws {
        let server = try ServerProcess(self)
        let admin = try await connect(server)
        _ = try await admin.createMeter(SidecarEndToEndTests.countMeter())
        _ = try await admin.setEntitlement(meter: Self.meter, customerId: "acme", limit: "2")
        let plain = try await admin.ingestBatch([SidecarEndToEndTests.event("p1")])
        XCTAssertEqual(plain.results.count, 1)
        XCTAssertFalse(plain.results[0].hasEntitlement, "not asked for")
        var unchanged = Meterd_V1_IngestBatchResponse()
        var counted = Meterd_V1_EventResult()
        counted.status = .accepted
        counted.outcome = .counted
        unchanged.results = [counted]
        unchanged.accepted = 1
        XCTAssertEqual(try plain.serializedBytes() as [UInt8], try unchanged.serializedBytes() as [UInt8])

        let events = [SidecarEndToEndTests.event("f1"), SidecarEndToEndTests.event("f2"), SidecarEndToEndTests.event("f3", customer: "globex"),
                      SidecarEndToEndTests.event("p1")]
        let response = try await admin.ingestBatch(events, includeEntitlementEffects: true)
        XCTAssertEqual(response.results.map(\.status), [.accepted, .accepted, .accepted, .duplicate])
        let crossing = response.results[0].entitlement
        XCTAssertTrue(response.results[0].hasEntitlement)
        XCTAssertTrue(crossing.crossed)
        XCTAssertFalse(crossing.hasAccess_p)
        XCTAssertEqual([crossing.usage, crossing.limit, crossing.remaining], ["2", "2", "0"])
        let next = response.results[1].entitlement
        XCTAssertFalse(next.hasAccess_p)
        XCTAssertFalse(next.crossed)
        XCTAssertEqual(next.usage, "3")
        XCTAssertFalse(response.results[2].hasEntitlement, "globex has no entitlement")
        XCTAssertFalse(response.results[3].hasEntitlement, "a duplicate changes nothing")
        let check = try await admin.checkEntitlement(meter: Self.meter, customerId: "acme")
        XCTAssertFalse(check.hasAccess_p)
        XCTAssertEqual(check.usage, "3")
        await admin.close()
    }

    func testThresholdsAreRaisedOnceAcrossSigkillRestartsAndTheLongPollWakes() async throws {
        let server = try ServerProcess(self)
        var admin = try await connect(server)
        _ = try await admin.createMeter(SidecarEndToEndTests.countMeter())
        let entitlement = try await admin.setEntitlement(meter: Self.meter, limit: "5")
        XCTAssertEqual(entitlement.customerID, "")
        let awaited1 = try await admin.addThresholdRule(meter: Self.meter, value: "3").id
        XCTAssertEqual(awaited1, "thr_1")
        let awaited2 = try await admin.addThresholdRule(meter: Self.meter, percent: "100").id
        XCTAssertEqual(awaited2, "thr_2")

        // A long poll waiting before the crossing ingest is answered by it, well before its wait.
        let watcher = try await connect(server)
        let started = ContinuousClock.now
        let poll = Task { try await watcher.listNotifications(afterNumber: 0, waitMilliseconds: 20_000) }
        try await ingest(admin, ["e1", "e2", "e3"])
        let woken = try await poll.value
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(15))
        XCTAssertEqual(woken.notifications.map(\.number), [1])
        XCTAssertEqual(woken.notifications.first?.usage, "3")
        XCTAssertEqual(woken.notifications.first?.customerID, "acme")
        await watcher.close()
        try await ingest(admin, ["e4"])
        await admin.close()

        server.child.signal(SIGKILL)
        _ = server.child.wait()
        try server.restart()
        admin = try await connect(server)
        let awaited3 = try await notificationRules(admin)
        XCTAssertEqual(awaited3, ["thr_1"], "replay raised nothing twice")
        var check = try await admin.checkEntitlement(meter: Self.meter, customerId: "acme")
        XCTAssertTrue(check.hasAccess_p)
        XCTAssertEqual(check.usage, "4")
        XCTAssertEqual(check.remaining, "1")
        XCTAssertTrue(check.isDefault)

        try await ingest(admin, ["e5", "e1", "e2"])
        check = try await admin.checkEntitlement(meter: Self.meter, customerId: "acme")
        XCTAssertFalse(check.hasAccess_p, "the fifth event reached the hard limit; duplicates do not count")
        XCTAssertEqual(check.usage, "5")
        let awaited4 = try await notificationRules(admin)
        XCTAssertEqual(awaited4, ["thr_1", "thr_2"])
        let empty = try await admin.listNotifications(afterNumber: 2, waitMilliseconds: 0)
        XCTAssertTrue(empty.notifications.isEmpty)
        XCTAssertEqual(empty.lastNumber, 2)
        await admin.close()

        server.child.signal(SIGKILL)
        _ = server.child.wait()
        try server.restart()
        admin = try await connect(server)
        let awaited5 = try await notificationRules(admin)
        XCTAssertEqual(awaited5, ["thr_1", "thr_2"])
        let awaited6 = try await admin.checkEntitlement(meter: Self.meter, customerId: "acme").hasAccess_p
        XCTAssertFalse(awaited6)
        let grant = try await admin.addGrant(meter: Self.meter, customerId: "acme", amount: "2")
        XCTAssertEqual(grant.id, "grt_1")
        check = try await admin.checkEntitlement(meter: Self.meter, customerId: "acme")
        XCTAssertTrue(check.hasAccess_p)
        XCTAssertEqual(check.limit, "7")
        await admin.close()

        // A clean stop writes a snapshot (format 4); everything comes back from it.
        XCTAssertEqual(server.stop(), 0)
        try server.restart()
        admin = try await connect(server)
        let awaited7 = try await notificationRules(admin)
        XCTAssertEqual(awaited7, ["thr_1", "thr_2"])
        let awaited8 = try await admin.listEntitlements().grants.map(\.id)
        XCTAssertEqual(awaited8, ["grt_1"])
        let awaited9 = try await admin.listThresholdRules().map(\.id)
        XCTAssertEqual(awaited9, ["thr_1", "thr_2"])
        let awaited10 = try await admin.checkEntitlement(meter: Self.meter, customerId: "acme").remaining
        XCTAssertEqual(awaited10, "2")
        do {
            _ = try await admin.checkEntitlement(meter: Self.meter, customerId: "acme", atMilliseconds: 1)
        } catch {
            XCTFail("a check in the past of a cumulative meter still answers: \(error)")
        }
        await admin.close()
        XCTAssertEqual(server.stop(), 0)
    }

    private func meterctl(_ arguments: [String], server: ServerProcess) throws -> (status: Int32, output: String, errors: String) {
        let child = try ChildProcess("meterctl", arguments + ["--socket", server.socketPath])
        let output = child.remainingLines().joined(separator: "\n")
        let exit = child.wait()
        return (exit.status, output, exit.errorOutput)
    }

    func testMeterctlSetsChecksGrantsAndWatches() async throws {
        let server = try ServerProcess(self)
        defer { XCTAssertEqual(server.stop(), 0) }
        let admin = try await connect(server)
        _ = try await admin.createMeter(SidecarEndToEndTests.countMeter())
        await admin.close()

        let set = try meterctl(["entitlements", "set", "api_call", "--customer", "acme", "--limit", "1"], server: server)
        XCTAssertEqual(set.status, 0, set.errors)
        XCTAssertTrue(set.output.contains("customer acme: 1 HARD"), set.output)
        let bad = try meterctl(["entitlements", "set", "api_call", "--limit", "lots"], server: server)
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.errors.contains("not a decimal"), bad.errors)
        XCTAssertEqual(try meterctl(["thresholds", "add", "api_call", "--value", "1"], server: server).status, 0)
        let missing = try meterctl(["entitlements", "check", "api_call", "--customer", "globex"], server: server)
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.errors.contains("no entitlement"), missing.errors)

        let client = try await connect(server)
        try await ingest(client, ["m1"])
        await client.close()
        let check = try meterctl(["entitlements", "check", "api_call", "--customer", "acme", "--json"], server: server)
        XCTAssertEqual(check.status, 0, check.errors)
        XCTAssertTrue(check.output.contains("\"has_access\": false"), check.output)
        XCTAssertEqual(try meterctl(["entitlements", "grant", "api_call", "--customer", "acme", "--amount", "1.5",
                                     "--expires", "2999-01-01T00:00:00Z"], server: server).status, 0)
        let granted = try meterctl(["entitlements", "check", "api_call", "--customer", "acme"], server: server)
        XCTAssertTrue(granted.output.contains("access:      yes"), granted.output)
        XCTAssertTrue(granted.output.contains("usage:       1 of 2.5 (1.5 granted)"), granted.output)
        let listed = try meterctl(["entitlements", "list"], server: server)
        XCTAssertTrue(listed.output.contains("grt_1"), listed.output)
        let notifications = try meterctl(["notifications"], server: server)
        XCTAssertEqual(notifications.status, 0, notifications.errors)
        XCTAssertTrue(notifications.output.hasPrefix("#1 "), notifications.output)
        XCTAssertTrue(notifications.output.contains("usage 1 reached 1"), notifications.output)
        XCTAssertEqual(try meterctl(["notifications", "--after", "1"], server: server).output, "")
        let webhooks = try meterctl(["webhooks"], server: server)
        XCTAssertEqual(webhooks.status, 0, webhooks.errors)
        XCTAssertTrue(webhooks.output.hasPrefix("webhooks: off"), webhooks.output)
    }
}
