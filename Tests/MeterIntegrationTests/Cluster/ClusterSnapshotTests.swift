// Built with the Cluster trait only (`swift test --traits Cluster`): meterd's cluster mode links libnats.
#if Cluster
import Foundation
import MeterClient
import MeterProto
import MeterTestSupport
import XCTest

/// Failover from shared snapshots (docs/cluster.md, "Snapshots"): partition owners publish
/// their partitions' snapshots to JetStream; after a SIGKILL the node taking a partition starts
/// from the newest snapshot and replays only the stream after it, and every event is counted
/// exactly once.
final class ClusterSnapshotTests: XCTestCase {
    static let customers = (0..<10).map { "customer-\($0)" }

    func testANodeTakingOverAfterASIGKILLStartsFromTheSnapshotAndCountsEveryEventOnce() async throws {
        guard LocalCluster.natsServerPath != nil else { throw XCTSkip("nats-server is not installed (scripts/test installs it: apt-get install nats-server)") }
        let directory = try TemporaryDirectory("meterd-cluster", removedBy: { addTeardownBlock($0) }).path
        let cluster = try LocalCluster(directory: directory, nodes: 2, nodeArguments: { _ in ["--cluster-snapshot-records", "10"] })
        defer { cluster.stop() }

        let client = try await MeterClient.connect(to: .unixSocket(path: cluster.socketPath(node: 0)))
        _ = try await client.createMeter(LocalCluster.tokensMeter, timeout: .seconds(30))
        let spreadBy = Date(timeIntervalSinceNow: 60)
        while cluster.partitionsServed(node: 0).isEmpty || cluster.partitionsServed(node: 1).isEmpty {
            guard Date() < spreadBy else { return XCTFail("the partitions did not spread over the two nodes within 60 s") }
            usleep(20_000)
        }

        var expected: [String: Int64] = [:]
        for round in 0..<30 { try await clusterIngest(client, round: round, customers: Self.customers, expected: &expected) }
        // node-2 publishes snapshots of the partitions it owns (every 10 records here).
        let owned = cluster.partitionsServed(node: 1)
        let publishedBy = Date(timeIntervalSinceNow: 60)
        while !owned.contains(where: { cluster.log(node: 1).contains("published snapshot of partition \($0) ") }) {
            guard Date() < publishedBy else { return XCTFail("node-2 published no snapshot of its partitions \(owned.sorted()):\n\(cluster.log(node: 1).suffix(3000))") }
            usleep(20_000)
        }
        // Records after the snapshots, then the SIGKILL.
        for round in 30..<34 { try await clusterIngest(client, round: round, customers: Self.customers, expected: &expected) }
        let held = cluster.partitionsServed(node: 1)
        let logBefore = cluster.log(node: 0).count
        cluster.killNode(1)
        let takenBy = Date(timeIntervalSinceNow: 60)
        while !held.isSubset(of: cluster.partitionsServed(node: 0)) {
            guard Date() < takenBy else { return XCTFail("node-1 did not take partitions \(held.sorted()) within 60 s:\n\(cluster.log(node: 0).suffix(3000))") }
            usleep(20_000)
        }

        // How each was rebuilt: "serves partition P (rebuilt through X in M ms; from the
        // snapshot through S, R records replayed)".
        let lines = cluster.log(node: 0).dropFirst(logBefore).split(separator: "\n").filter { $0.contains(" serves partition ") }
        var fromSnapshot: Set<Int> = []
        for line in lines {
            print("cluster snapshot takeover: \(line)")
            guard let through = Self.number(after: "rebuilt through ", in: line), let replayed = Self.number(after: ", ", in: line, before: " records replayed")
            else { return XCTFail("unexpected line \(line)") }
            if line.contains("from the snapshot through ") {
                fromSnapshot.insert(try XCTUnwrap(Self.number(after: " serves partition ", in: line)))
                let covered = try XCTUnwrap(Self.number(after: "from the snapshot through ", in: line))
                XCTAssertGreaterThan(covered, 0)
                XCTAssertLessThan(replayed, through, "\(line): a takeover from a snapshot replays less than the stream holds")
                XCTAssertLessThanOrEqual(replayed, through - covered, String(line))
            }
        }
        XCTAssertFalse(fromSnapshot.isEmpty, "no partition was taken over from a snapshot: \(lines)")
        try await assertClusterUsage(client, expected, customers: Self.customers)

        // A meter created now backfills every earlier event, which the engines started from a
        // snapshot have no log of: node-1 rebuilds those partitions from the stream's start, and
        // the new meter counts exactly what the old one did.
        let logBeforeMeter = cluster.log(node: 0).count
        _ = try await client.archiveMeter(MeterClient.reference("tokens_used"), timeout: .seconds(30))
        _ = try await client.createMeter(LocalCluster.tokensMeter, timeout: .seconds(30))
        let rebuiltBy = Date(timeIntervalSinceNow: 60)
        while true {
            let after = cluster.log(node: 0).dropFirst(logBeforeMeter)
            let rebuilt = Set(after.split(separator: "\n").filter { $0.contains("from the stream's start") }.compactMap { Self.number(after: " serves partition ", in: $0) })
            if fromSnapshot.isSubset(of: rebuilt) { break }
            guard Date() < rebuiltBy else { return XCTFail("partitions \(fromSnapshot.sorted()) were not rebuilt from the stream's start:\n\(after.suffix(3000))") }
            usleep(20_000)
        }
        XCTAssertTrue(cluster.log(node: 0).dropFirst(logBeforeMeter).contains("backfills events from before the snapshot"))
        try await assertClusterUsage(client, expected, customers: Self.customers)
        await client.close()

        // SIGTERM: the node publishes its partitions' state before giving the leases back.
        let logPath = "\(directory)/node-1/log"
        let beforeStop = ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").count
        XCTAssertEqual(cluster.stop(), [0])
        let afterStop = String(((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").dropFirst(beforeStop))
        XCTAssertTrue(afterStop.contains("published snapshot of partition"), "no snapshot published on SIGTERM:\n\(afterStop.suffix(3000))")
    }

    static func number(after marker: String, in line: Substring, before end: String? = nil) -> Int? {
        var text = line
        if let end, let endRange = text.range(of: end) { text = text[..<endRange.lowerBound] }
        guard let range = text.range(of: marker, options: end == nil ? [] : .backwards) else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }
}
#endif
