// Built with the Cluster trait only (`swift test --traits Cluster`): meterd's cluster mode links libnats.
#if Cluster
import Foundation
import MeterClient
import MeterProto
import MeterTestSupport
import XCTest

/// Meta snapshots and trimming of the stream (docs/cluster.md, "Meta snapshots" and
/// "Trimming") with three NATS servers and meterd nodes as child processes.
final class ClusterTrimTests: XCTestCase {
    static let customers = (0..<10).map { "customer-\($0)" }

    /// A restarted node's meta engine starts from the meta snapshot: it replays fewer meta
    /// records than the stream holds and has the same meters and keys as the other node.
    func testARestartedNodeStartsItsMetaEngineFromTheMetaSnapshot() async throws {
        guard LocalCluster.natsServerPath != nil else { throw XCTSkip("nats-server is not installed (scripts/test installs it: apt-get install nats-server)") }
        let directory = try TemporaryDirectory("meterd-cluster", removedBy: { addTeardownBlock($0) }).path
        let cluster = try LocalCluster(directory: directory, nodes: 2, nodeArguments: { _ in
            ["--cluster-snapshot-records", "3", "--cluster-snapshot-seconds", "1"]
        })
        defer { cluster.stop() }
        try cluster.waitUntilPartitionsSpread()

        // Ten meta records: six meters and four keys.
        let client = try await MeterClient.connect(to: .unixSocket(path: cluster.socketPath(node: 0)))
        _ = try await client.createMeter(LocalCluster.tokensMeter, timeout: .seconds(30))
        for name in ["a", "b", "c", "d", "e"] {
            var meter = LocalCluster.tokensMeter
            meter.eventName = "meta_\(name)"
            _ = try await client.createMeter(meter, timeout: .seconds(30))
        }
        for index in 0..<4 { _ = try await client.createApiKey(name: "key-\(index)", role: index % 2 == 0 ? .admin : .ingest, timeout: .seconds(30)) }
        let metaRecords = 10
        // A meta snapshot covering all of them: events move the stream on (the meta applier
        // passes them), and after a second the holder of partition 0 publishes one.
        let logsBefore = (0..<2).map { cluster.log(node: $0).count }
        var expected: [String: Int64] = [:]
        var round = 0
        let publishedBy = Date(timeIntervalSinceNow: 60)
        while !(0..<2).contains(where: { cluster.log(node: $0).dropFirst(logsBefore[$0]).contains("published snapshot of meta through") }) {
            guard Date() < publishedBy else { return XCTFail("no meta snapshot was published:\n\(cluster.log(node: 0).suffix(2000))\n\(cluster.log(node: 1).suffix(2000))") }
            try await clusterIngest(client, round: round, customers: Self.customers, expected: &expected)
            round += 1
            try await Task.sleep(for: .milliseconds(200))
        }
        let meters = try await client.listMeters(timeout: .seconds(30))
        let keys = try await client.listApiKeys(timeout: .seconds(30))
        XCTAssertEqual(meters.count, 6)

        cluster.killNode(1)
        try cluster.startNode(1)
        let line = try XCTUnwrap(cluster.log(node: 1).split(separator: "\n").first { $0.contains(" caught up with stream ") })
        print("cluster meta snapshot: \(line)")
        XCTAssertTrue(line.contains("from the meta snapshot through "), String(line))
        let replayed = try XCTUnwrap(ClusterSnapshotTests.number(after: ", ", in: line, before: " meta records replayed"), String(line))
        XCTAssertLessThan(replayed, metaRecords, "the restarted node replayed \(replayed) of the \(metaRecords) meta records: \(line)")

        let restarted = try await MeterClient.connect(to: .unixSocket(path: cluster.socketPath(node: 1)))
        let metersThere = try await restarted.listMeters(timeout: .seconds(30))
        let keysThere = try await restarted.listApiKeys(timeout: .seconds(30))
        XCTAssertEqual(metersThere, meters, "the restarted node has the same meters")
        XCTAssertEqual(keysThere, keys, "the restarted node has the same keys")
        try await assertClusterUsage(restarted, expected, customers: Self.customers)
        await restarted.close()
        await client.close()
    }

    /// With --cluster-retain-seconds the stream is trimmed behind the snapshots; a SIGKILL and
    /// takeover afterwards still counts every acknowledged event exactly once, a restarted node
    /// starts from the snapshots, and a new meter is refused (its backfill would need the
    /// trimmed events).
    func testAfterTrimmingATakeoverCountsEveryEventOnceAndNewMetersAreRefused() async throws {
        guard LocalCluster.natsServerPath != nil else { throw XCTSkip("nats-server is not installed (scripts/test installs it: apt-get install nats-server)") }
        let directory = try TemporaryDirectory("meterd-cluster", removedBy: { addTeardownBlock($0) }).path
        let cluster = try LocalCluster(directory: directory, nodes: 2, nodeArguments: { _ in
            ["--cluster-snapshot-records", "10", "--cluster-snapshot-seconds", "1", "--cluster-retain-seconds", "30"]
        })
        defer { cluster.stop() }
        // A retention shorter than a publish is retried with its message id is refused.
        let short = try cluster.launchExtraNode("node-short", arguments: ["--cluster-retain-seconds", "5"])
        let exitBy = Date(timeIntervalSinceNow: 30)
        while short.isRunning && Date() < exitBy { usleep(20_000) }
        if short.isRunning { short.killAndWait() }
        XCTAssertEqual(short.process.terminationStatus, 64, short.log)
        XCTAssertTrue(short.log.contains("cluster-retain-seconds must be 0 (never trim) or at least 30, got 5"), short.log)

        try cluster.waitUntilPartitionsSpread()
        let client = try await MeterClient.connect(to: .unixSocket(path: cluster.socketPath(node: 0)))
        _ = try await client.createMeter(LocalCluster.tokensMeter, timeout: .seconds(30))

        // Ingest until the stream was trimmed (its messages must be 30 s old first, and trimming
        // announced 30 s before).
        var expected: [String: Int64] = [:]
        var round = 0
        let trimmedBy = Date(timeIntervalSinceNow: 180)
        var trimmedLine: Substring?
        while trimmedLine == nil {
            guard Date() < trimmedBy else { return XCTFail("the stream was not trimmed within 180 s:\n\(cluster.log(node: 0).suffix(3000))\n\(cluster.log(node: 1).suffix(3000))") }
            try await clusterIngest(client, round: round, customers: Self.customers, expected: &expected)
            round += 1
            try await Task.sleep(for: .milliseconds(100))
            trimmedLine = (0..<2).lazy.compactMap { cluster.log(node: $0).split(separator: "\n").first { $0.contains(" trimmed stream METERD below sequence ") } }.first
        }
        let line = try XCTUnwrap(trimmedLine)
        print("cluster trim: \(line)")
        let below = try XCTUnwrap(ClusterSnapshotTests.number(after: "below sequence ", in: line), String(line))
        XCTAssertGreaterThan(below, 1, "the stream's first sequence advanced: \(line)")
        XCTAssertTrue(line.contains("(it started at 1;"), String(line))
        XCTAssertTrue((0..<2).contains { cluster.log(node: $0).contains("announced trimming of stream METERD: new meters are refused from now on") },
                      "trimming was announced before the first purge")
        for extra in round..<(round + 5) { try await clusterIngest(client, round: extra, customers: Self.customers, expected: &expected) }
        round += 5

        // SIGKILL node-2: node-1 takes its partitions from their snapshots (the stream before
        // them is gone) and counts every acknowledged event once.
        let held = cluster.partitionsServed(node: 1)
        XCTAssertFalse(held.isEmpty)
        let logBefore = cluster.log(node: 0).count
        cluster.killNode(1)
        let takenBy = Date(timeIntervalSinceNow: 60)
        while !held.isSubset(of: cluster.partitionsServed(node: 0)) {
            guard Date() < takenBy else { return XCTFail("node-1 did not take partitions \(held.sorted()) within 60 s:\n\(cluster.log(node: 0).suffix(3000))") }
            usleep(20_000)
        }
        let takeovers = cluster.log(node: 0).dropFirst(logBefore).split(separator: "\n").filter { $0.contains(" serves partition ") }
        for takeover in takeovers { print("cluster trim takeover: \(takeover)") }
        XCTAssertTrue(takeovers.allSatisfy { $0.contains("from the snapshot through ") }, "\(takeovers)")
        XCTAssertFalse(cluster.log(node: 0).contains("cannot rebuild partition"), cluster.log(node: 0).suffix(3000).description)
        for extra in round..<(round + 3) { try await clusterIngest(client, round: extra, customers: Self.customers, expected: &expected) }
        try await assertClusterUsage(client, expected, customers: Self.customers)
        // Retries of the first round's events, long trimmed from the stream, are still duplicates
        // (the exactly-once index came through the snapshots), and the usage does not move.
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let retry = (0..<20).map { index -> Meterd_V1_Event in
            var event = Meterd_V1_Event()
            event.eventID = "s-0-\(index)"
            event.eventName = "tokens_used"
            event.customerID = Self.customers[index % Self.customers.count]
            event.timestampMs = now
            var property = Meterd_V1_Property()
            property.key = "tokens"
            property.value.decimalValue = "1"
            event.properties = [property]
            return event
        }
        let retried = try await client.ingestBatch(retry, timeout: .seconds(30))
        XCTAssertEqual(retried.results.map(\.status), Array(repeating: .duplicate, count: 20), "\(retried.results.map(\.message))")
        try await assertClusterUsage(client, expected, customers: Self.customers)

        // node-2 restarts: its meta engine can only start from the meta snapshot now.
        try cluster.startNode(1)
        let caughtUp = try XCTUnwrap(cluster.log(node: 1).split(separator: "\n").first { $0.contains(" caught up with stream ") })
        print("cluster trim restart: \(caughtUp)")
        XCTAssertTrue(caughtUp.contains("from the meta snapshot through "), String(caughtUp))
        let other = try await MeterClient.connect(to: .unixSocket(path: cluster.socketPath(node: 1)))
        try await assertClusterUsage(other, expected, customers: Self.customers)
        let metersBefore = try await other.listMeters(timeout: .seconds(30)).map(\.definition.eventName)
        XCTAssertEqual(metersBefore, ["tokens_used"])

        // A new meter would backfill events that are no longer in the stream: refused.
        var later = LocalCluster.tokensMeter
        later.eventName = "tokens_later"
        do {
            _ = try await client.createMeter(later, timeout: .seconds(30))
            XCTFail("a meter was created after the stream was trimmed")
        } catch {
            XCTAssertTrue("\(error)".contains("the cluster log is trimmed"), "\(error)")
        }
        let metersAfter = try await other.listMeters(timeout: .seconds(30)).map(\.definition.eventName)
        XCTAssertEqual(metersAfter, ["tokens_used"])
        await other.close()
        await client.close()
    }
}
#endif
