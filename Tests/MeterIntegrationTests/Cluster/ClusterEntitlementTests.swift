// Built with the Cluster trait only (`swift test --traits Cluster`): meterd's cluster mode links libnats.
#if Cluster
import Foundation
import MeterClient
import MeterCore
import MeterProto
import MeterTestSupport
import XCTest

/// Entitlements, grants and threshold rules in cluster mode (docs/cluster.md, "Entitlements"):
/// changed on one node, they go through the replicated log's meta subject to every partition
/// engine; a customer's check and the notifications its usage raised are answered by its
/// partition's owner, from any node, and the node taking the partition after the owner's
/// SIGKILL (from its snapshot plus the stream after it) answers the same.
final class ClusterEntitlementTests: XCTestCase {
    static let meter = MeterClient.reference("tokens_used")

    func testAChangeOnOneNodeHoldsOnTheOwnerFromEveryNodeAndAfterTheOwnersSIGKILL() async throws {
        guard LocalCluster.natsServerPath != nil else { throw XCTSkip("nats-server is not installed (scripts/test installs it: apt-get install nats-server)") }
        let directory = try TemporaryDirectory("meterd-cluster-entitlements", removedBy: { addTeardownBlock($0) }).path
        let cluster = try LocalCluster(directory: directory, nodes: 3, nodeArguments: { _ in ["--cluster-snapshot-records", "5"] })
        defer { cluster.stop() }
        let a = try await MeterClient.connect(to: .unixSocket(path: cluster.socketPath(node: 0)))
        _ = try await a.createMeter(LocalCluster.tokensMeter, timeout: .seconds(30))
        try cluster.waitUntilPartitionsSpread()

        // A customer whose partition node-2 (B) owns, and one whose partition node-2 does not.
        let ownedByB = cluster.partitionsServed(node: 1)
        let customer = try XCTUnwrap((0..<1000).map { "customer-\($0)" }.first { ownedByB.contains(Self.partition($0)) })
        let other = try XCTUnwrap((0..<1000).map { "other-\($0)" }.first { !ownedByB.contains(Self.partition($0)) })
        let partition = Self.partition(customer)

        // Changes on node-1 (A): the customer's entitlement, a grant, a rule; a tenant-wide default.
        let entitlement = try await a.setEntitlement(meter: Self.meter, customerId: customer, limit: "100", timeout: .seconds(30))
        XCTAssertEqual(entitlement.limit, "100")
        _ = try await a.setEntitlement(meter: Self.meter, limit: "10", timeout: .seconds(30))
        let grant = try await a.addGrant(meter: Self.meter, customerId: customer, amount: "50", timeout: .seconds(30))
        XCTAssertEqual(grant.id, "grt_1")
        let rule = try await a.addThresholdRule(meter: Self.meter, customerId: customer, value: "120", timeout: .seconds(30))
        XCTAssertEqual(rule.id, "thr_1")

        // Events through node-3 (C): 100 tokens of the customer in 5 records, 15 of the other.
        let c = try await MeterClient.connect(to: .unixSocket(path: cluster.socketPath(node: 2)))
        for round in 0..<4 { try await Self.ingest(c, customer: customer, id: "e-\(round)", tokens: 20) }
        // With entitlement effects: decided by node-2 (forwarded from node-3), and by the other
        // customer's partition owner; what a single node answers after these events.
        let effect = try await Self.ingest(c, customer: customer, id: "e-4", tokens: 20, effects: true)
        XCTAssertEqual(effect.map { [$0.usage, $0.limit, $0.remaining] }, ["100", "150", "50"])
        XCTAssertEqual(effect.map { [$0.hasAccess_p, $0.crossed] }, [true, false])
        let otherEffect = try await Self.ingest(c, customer: other, id: "o-0", tokens: 15, effects: true)
        XCTAssertEqual(otherEffect.map { [$0.usage, $0.limit, $0.remaining] }, ["15", "10", "0"])
        XCTAssertEqual(otherEffect.map { [$0.hasAccess_p, $0.crossed] }, [false, true])
        // node-2 publishes a snapshot of the customer's partition (every 5 records here), which
        // holds the entitlement, the grant and the rule (meta records count too).
        let publishedBy = Date(timeIntervalSinceNow: 60)
        while !cluster.log(node: 1).contains("published snapshot of partition \(partition) ") {
            guard Date() < publishedBy else { return XCTFail("node-2 published no snapshot of partition \(partition):\n\(cluster.log(node: 1).suffix(3000))") }
            usleep(20_000)
        }
        // After the snapshot: a second grant (on node-3) and 60 more tokens, crossing the rule at 120.
        let second = try await c.addGrant(meter: Self.meter, customerId: customer, amount: "5", timeout: .seconds(30))
        XCTAssertEqual(second.id, "grt_2")
        for round in 5..<8 { try await Self.ingest(c, customer: customer, id: "e-\(round)", tokens: 20) }
        await c.close()
        await a.close()

        // Every node answers what a single node would: 160 used of 100 + 50 + 5.
        let at = Int64(Date().timeIntervalSince1970 * 1000) + 60_000
        var answers: [Int: (check: Meterd_V1_CheckEntitlementResponse, otherCheck: Meterd_V1_CheckEntitlementResponse, notifications: [Meterd_V1_Notification])] = [:]
        for node in 0..<3 { answers[node] = try await Self.answers(cluster, node: node, customer: customer, other: other, at: at) }
        let check = try XCTUnwrap(answers[1]).check
        XCTAssertEqual([check.usage, check.limit, check.granted, check.remaining, check.overage], ["160", "155", "55", "0", "5"])
        XCTAssertFalse(check.hasAccess_p)
        XCTAssertFalse(check.isDefault)
        let otherCheck = try XCTUnwrap(answers[1]).otherCheck
        XCTAssertEqual([otherCheck.usage, otherCheck.limit, otherCheck.overage], ["15", "10", "5"])
        XCTAssertTrue(otherCheck.isDefault)
        let notifications = try XCTUnwrap(answers[1]).notifications
        XCTAssertEqual(notifications.map(\.ruleID), ["thr_1"], "one crossing of the rule at 120")
        XCTAssertEqual(notifications.map(\.customerID), [customer])
        XCTAssertEqual(notifications.first?.threshold, "120")
        XCTAssertEqual(notifications.first?.usage, "120")
        for node in [0, 2] {
            XCTAssertEqual(answers[node]?.check, check, "node-\(node + 1)'s check")
            XCTAssertEqual(answers[node]?.otherCheck, otherCheck, "node-\(node + 1)'s check of the other customer")
            XCTAssertEqual(answers[node]?.notifications, notifications, "node-\(node + 1)'s notifications")
        }

        // A figure (debug build, one shared machine): checks on the owner (read barrier: one
        // JetStream stream-info request each) and forwarded from another node.
        for node in [1, 0] {
            let client = try await MeterClient.connect(to: .unixSocket(path: cluster.socketPath(node: node)))
            let started = ContinuousClock.now
            for _ in 0..<100 { _ = try await client.checkEntitlement(meter: Self.meter, customerId: customer, atMilliseconds: at, timeout: .seconds(30)) }
            let elapsed = ContinuousClock.now - started
            print("cluster entitlement check: 100 sequential checks on node-\(node + 1) (\(node == 1 ? "the owner" : "forwarded to the owner")) took \(elapsed), \(elapsed / 100) each")
            await client.close()
        }

        // SIGKILL the owner: the node taking the partition answers the same.
        let logBefore = [0, 2].map { cluster.log(node: $0).count }
        cluster.killNode(1)
        let takenBy = Date(timeIntervalSinceNow: 60)
        while !cluster.partitionsServed(node: 0).contains(partition) && !cluster.partitionsServed(node: 2).contains(partition) {
            guard Date() < takenBy else { return XCTFail("nobody took partition \(partition) within 60 s") }
            usleep(20_000)
        }
        let taker = cluster.partitionsServed(node: 0).contains(partition) ? 0 : 2
        let takeover = cluster.log(node: taker).dropFirst(logBefore[taker == 0 ? 0 : 1]).split(separator: "\n")
            .first { $0.contains(" serves partition \(partition) ") }
        XCTAssertTrue(takeover?.contains("from the snapshot through") ?? false, "the takeover started from the snapshot: \(takeover ?? "none")")
        for node in [0, 2] {
            let after = try await Self.answers(cluster, node: node, customer: customer, other: other, at: at)
            XCTAssertEqual(after.check, check, "node-\(node + 1)'s check after the takeover")
            XCTAssertEqual(after.otherCheck, otherCheck, "node-\(node + 1)'s check of the other customer after the takeover")
            XCTAssertEqual(after.notifications, notifications, "node-\(node + 1)'s notifications after the takeover")
        }
    }

    /// Over HTTP: an entitlement PUT on node-1's listener for a customer node-2 owns, events
    /// through node-3; every node's value route answers the owner's check. ListNotifications
    /// refuses a cursor and HTTP notifications are refused in cluster mode.
    func testTheHTTPEntitlementRoutesOfEveryNodeGoThroughTheOwner() async throws {
        guard LocalCluster.natsServerPath != nil else { throw XCTSkip("nats-server is not installed (scripts/test installs it: apt-get install nats-server)") }
        let directory = try TemporaryDirectory("meterd-cluster-entitlements-http", removedBy: { addTeardownBlock($0) }).path
        let httpPorts = try LocalCluster.freePorts(3)
        let cluster = try LocalCluster(directory: directory, nodes: 3, nodeArguments: { ["--http", "127.0.0.1:\(httpPorts[$0])"] })
        defer { cluster.stop() }
        let a = try await MeterClient.connect(to: .unixSocket(path: cluster.socketPath(node: 0)))
        _ = try await a.createMeter(LocalCluster.tokensMeter, timeout: .seconds(30))
        let authorization = "Authorization: Bearer \(try await a.createApiKey(name: "http", role: .admin, timeout: .seconds(30)).secret)"
        try cluster.waitUntilPartitionsSpread()
        let ownedByB = cluster.partitionsServed(node: 1)
        let customer = try XCTUnwrap((0..<1000).map { "customer-\($0)" }.first { ownedByB.contains(Self.partition($0)) })

        let put = try Self.http(httpPorts[0], "PUT /api/v1/entitlements", authorization,
                                body: "{\"meter\":\"tokens_used\",\"subject\":\"\(customer)\",\"limit\":\"30\"}")
        XCTAssertTrue(put.head.hasPrefix("HTTP/1.1 200"), put.head + put.body)
        let c = try await MeterClient.connect(to: .unixSocket(path: cluster.socketPath(node: 2)))
        try await Self.ingest(c, customer: customer, id: "h-0", tokens: 20)
        // The second event over node-3's HTTP listener with its effect, decided by node-2.
        let now = CivilTime.rfc3339(milliseconds: Int64(Date().timeIntervalSince1970 * 1000))
        let posted = try Self.http(httpPorts[2], "POST /api/v1/events?entitlement_effects=true", authorization,
                                   body: #"[{"specversion":"1.0","id":"h-1","source":"test","type":"tokens_used","subject":"\#(customer)","time":"\#(now)","data":{"tokens":20}}]"#)
        XCTAssertTrue(posted.head.hasPrefix("HTTP/1.1 200"), posted.head + posted.body)
        XCTAssertTrue(posted.body.contains(#""entitlement":{"hasAccess":false,"usage":"40","limit":"30","remaining":"0","crossed":true}"#), posted.body)
        do {
            let listed = try await c.listNotifications(afterNumber: 1, timeout: .seconds(30))
            XCTFail("a cursor was answered in cluster mode: \(listed)")
        } catch {
            XCTAssertTrue("\(error)".contains("numbered per partition"), "\(error)")
        }
        await c.close()
        await a.close()

        let time = CivilTime.rfc3339(milliseconds: Int64(Date().timeIntervalSince1970 * 1000) + 60_000)
        for node in 0..<3 {
            let value = try Self.http(httpPorts[node], "GET /api/v1/subjects/\(customer)/entitlements/tokens_used/value?time=\(time)", authorization)
            XCTAssertTrue(value.head.hasPrefix("HTTP/1.1 200"), "node-\(node + 1): " + value.head + value.body)
            let fields = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(value.body.utf8)) as? [String: Any], value.body)
            XCTAssertEqual(fields["usage"] as? String, "40", "node-\(node + 1): \(value.body)")
            XCTAssertEqual(fields["limit"] as? String, "30", "node-\(node + 1): \(value.body)")
            XCTAssertEqual(fields["overage"] as? String, "10", "node-\(node + 1): \(value.body)")
            XCTAssertEqual(fields["hasAccess"] as? Bool, false, "node-\(node + 1): \(value.body)")
            let notifications = try Self.http(httpPorts[node], "GET /api/v1/notifications", authorization, retryingUnavailable: false)
            XCTAssertTrue(notifications.head.hasPrefix("HTTP/1.1 503") && notifications.body.contains("numbered per partition"),
                          notifications.head + notifications.body)
        }
    }

    /// Nobody delivers the partitions' notifications in cluster mode: a node given a webhook
    /// URL refuses to start, saying so, rather than run without delivering.
    func testANodeWithAWebhookURLRefusesToStartInClusterMode() throws {
        guard LocalCluster.natsServerPath != nil else { throw XCTSkip("nats-server is not installed (scripts/test installs it: apt-get install nats-server)") }
        let directory = try TemporaryDirectory("meterd-cluster-webhook", removedBy: { addTeardownBlock($0) }).path
        let cluster = try LocalCluster(directory: directory, nodes: 1)
        defer { cluster.stop() }
        let secret = directory + "/webhook-secret"
        try "0123456789abcdef0123456789abcdef".write(toFile: secret, atomically: true, encoding: .utf8)
        let node = try cluster.launchExtraNode("node-webhook", arguments: ["--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret-file", secret])
        let deadline = Date(timeIntervalSinceNow: 60)
        while node.isRunning && Date() < deadline { usleep(20_000) }
        XCTAssertFalse(node.isRunning, "the node with a webhook URL is running:\n\(node.log)")
        if node.isRunning { node.killAndWait() }
        XCTAssertNotEqual(node.process.terminationStatus, 0)
        XCTAssertTrue(node.log.contains("webhook-url is not available in cluster mode"), node.log)
    }

    /// One HTTP request, retried while the key has not reached the node yet (401) or a
    /// partition moves (503, when `retryingUnavailable`) for up to 60 s.
    private static func http(_ port: Int, _ line: String, _ authorization: String, body: String = "",
                             retryingUnavailable: Bool = true) throws -> (head: String, body: String) {
        let deadline = Date(timeIntervalSinceNow: 60)
        while true {
            let answer = try HTTPRequest.send(port: port, line, headers: [authorization, "Content-Type: application/json"], body: body)
            let retry = answer.head.hasPrefix("HTTP/1.1 401") || (retryingUnavailable && answer.head.hasPrefix("HTTP/1.1 503"))
            guard retry, Date() < deadline else { return answer }
            usleep(50_000)
        }
    }

    /// Node `node`'s check of both customers and its notifications, retried while partitions
    /// move (UNAVAILABLE) for up to 60 s.
    private static func answers(_ cluster: LocalCluster, node: Int, customer: String, other: String, at: Int64) async throws
        -> (check: Meterd_V1_CheckEntitlementResponse, otherCheck: Meterd_V1_CheckEntitlementResponse, notifications: [Meterd_V1_Notification]) {
        let deadline = Date(timeIntervalSinceNow: 60)
        while true {
            do {
                let client = try await MeterClient.connect(to: .unixSocket(path: cluster.socketPath(node: node)))
                defer { Task { await client.close() } }
                let check = try await client.checkEntitlement(meter: meter, customerId: customer, atMilliseconds: at, timeout: .seconds(30))
                let otherCheck = try await client.checkEntitlement(meter: meter, customerId: other, atMilliseconds: at, timeout: .seconds(30))
                let notifications = try await client.listNotifications(afterNumber: 0, timeout: .seconds(30)).notifications
                return (check, otherCheck, notifications)
            } catch {
                guard Date() < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// One event of `tokens` for `customer`, retried with the same id until acknowledged; its
    /// entitlement effect when `effects` (nil when a retry found it written already).
    @discardableResult
    private static func ingest(_ client: MeterClient, customer: String, id: String, tokens: Int,
                               effects: Bool = false) async throws -> Meterd_V1_EntitlementEffect? {
        var event = Meterd_V1_Event()
        event.eventID = id
        event.eventName = "tokens_used"
        event.customerID = customer
        event.timestampMs = Int64(Date().timeIntervalSince1970 * 1000)
        var property = Meterd_V1_Property()
        property.key = "tokens"
        property.value.decimalValue = "\(tokens)"
        event.properties = [property]
        let deadline = Date(timeIntervalSinceNow: 60)
        while true {
            do {
                let result = try await client.ingestBatch([event], includeEntitlementEffects: effects, timeout: .seconds(30)).results.first
                XCTAssertTrue(result?.status == .accepted || result?.status == .duplicate, "\(id): \(String(describing: result))")
                if effects && result?.status == .accepted { XCTAssertTrue(result?.hasEntitlement ?? false, "\(id): no effect in \(String(describing: result))") }
                return result?.hasEntitlement == true ? result?.entitlement : nil
            } catch {
                guard Date() < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// The partition of the default tenant's `customer` among the cluster's 8
    /// (`ClusterPartitioning`: FNV-1a 64 of tenant, 0xFF, customer).
    static func partition(_ customer: String) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        for byte in Tenant.defaultId.utf8 { mix(byte) }
        mix(0xFF)
        for byte in customer.utf8 { mix(byte) }
        return Int(hash % 8)
    }
}
#endif
