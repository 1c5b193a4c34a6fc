// Built with the Cluster trait only (`swift test --traits Cluster`): meterd's cluster mode links libnats.
#if Cluster
import Foundation
import MeterClient
import MeterTestSupport
import XCTest

/// `/metrics` in cluster mode (docs/operations.md, "Cluster"): each node reports which
/// partitions it serves and how far it applied each, against the stream's last sequence.
final class ClusterMetricsTests: XCTestCase {
    /// Three nodes with metrics: once the partitions are spread and the ingest is applied, every
    /// partition is served by exactly one node (the one whose log says so), and each serving
    /// node applied it through the stream's last sequence (lag 0).
    func testEveryPartitionIsReportedServedByExactlyOneNodeWithItsAppliedSequence() async throws {
        guard LocalCluster.natsServerPath != nil else { throw XCTSkip("nats-server is not installed (scripts/test installs it: apt-get install nats-server)") }
        let directory = try TemporaryDirectory("meterd-cluster-metrics", removedBy: { addTeardownBlock($0) }).path
        let ports = try LocalCluster.freePorts(3)
        let cluster = try LocalCluster(directory: directory, nodes: 3, nodeArguments: { ["--metrics", "127.0.0.1:\(ports[$0])"] })
        defer { cluster.stop() }
        try cluster.waitUntilPartitionsSpread()

        let admin = try await MeterClient.connect(to: .unixSocket(path: cluster.socketPath(node: 0)))
        _ = try await admin.createMeter(LocalCluster.tokensMeter, timeout: .seconds(30))
        await admin.close()
        var random = TestSeed.generator(for: "ClusterMetricsTests")
        try await ClusterAccessTests.ingest(ClusterAccessTests.events(count: 200, customers: 40, prefix: "m", random: &random),
                                            through: cluster.socketPath(node: 1))

        let deadline = Date(timeIntervalSinceNow: 60)
        var last = ""
        while true {
            var servedBy: [Int: [Int]] = [:]
            var consistent = true
            var scrapes: [String] = []
            for node in 0..<3 {
                let answer = try HTTPRequest.send(port: ports[node], "GET /metrics", headers: [])
                scrapes.append("node-\(node + 1):\n" + answer.body)
                let values = Self.gauges(answer.body)
                let streamLast = values["meterd_cluster_stream_last_sequence"] ?? -1
                var served = 0
                for partition in 0..<8 where values["meterd_cluster_partition_serving{partition=\"\(partition)\"}"] == 1 {
                    served += 1
                    servedBy[partition, default: []].append(node)
                    let applied = values["meterd_cluster_partition_applied_sequence{partition=\"\(partition)\"}"] ?? -1
                    let lag = values["meterd_cluster_partition_lag_messages{partition=\"\(partition)\"}"] ?? -1
                    if applied != streamLast || lag != 0 { consistent = false }
                }
                if values["meterd_cluster_partitions_served"] != Double(served) { consistent = false }
                // What the node's log says it serves is what its metrics say.
                if Set(servedBy.filter { $0.value.contains(node) }.keys) != cluster.partitionsServed(node: node) { consistent = false }
                // The meter and four batches of 50 (each split by partition) at least.
                if streamLast < 5 { consistent = false }
            }
            if consistent && servedBy.count == 8 && servedBy.values.allSatisfy({ $0.count == 1 }) { break }
            last = scrapes.joined(separator: "\n")
            guard Date() < deadline else {
                return XCTFail("the nodes' metrics never showed every partition served once and applied through the stream's end: \(servedBy)\n"
                               + last.split(separator: "\n").filter { $0.contains("cluster") || $0.hasPrefix("node-") }.joined(separator: "\n"))
            }
            usleep(100_000)
        }
        XCTAssertEqual(cluster.stop(), [0, 0, 0])
    }

    /// Gauge lines of a Prometheus text scrape: "name{labels} value" by "name{labels}".
    static func gauges(_ text: String) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = value
        }
        return values
    }
}
#endif
