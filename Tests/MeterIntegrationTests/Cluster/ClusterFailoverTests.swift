// Built with the Cluster trait only (`swift test --traits Cluster`): meterd's cluster mode links libnats.
#if Cluster
import Foundation
import MeterClient
import MeterProto
import MeterTestSupport
import Synchronization
import XCTest

/// Cluster mode end to end (docs/cluster.md): three NATS servers and three meterd nodes on
/// loopback; several clients ingest while meterd nodes and one NATS server are SIGKILLed at
/// seeded random moments and started again; every acknowledged event must be counted exactly
/// once, and every node must answer the same usage (the owner of the customer's partition
/// from its engine, the others by forwarding to it).
final class ClusterFailoverTests: XCTestCase {
    static let customers = (0..<5).map { "customer-\($0)" }

    func testEveryAcknowledgedEventIsCountedOnceAndEveryNodeAnswersItWhileNodesAndANATSServerAreKilled() async throws {
        guard LocalCluster.natsServerPath != nil else { throw XCTSkip("nats-server is not installed (scripts/test installs it: apt-get install nats-server)") }
        var random = TestSeed.generator(for: "ClusterFailoverTests")
        let directory = try TemporaryDirectory("meterd-cluster", removedBy: { addTeardownBlock($0) }).path
        let cluster = try LocalCluster(directory: directory, nodes: 3)
        defer { cluster.stop() }

        let admin = try await MeterClient.connect(to: .unixSocket(path: cluster.socketPath(node: 0)))
        _ = try await admin.createMeter(LocalCluster.tokensMeter, timeout: .seconds(30))
        await admin.close()

        // The chaos schedule, from the seed: kill a meterd node, then one NATS server (the
        // stream's leader), then another meterd node, each at a random moment, each started
        // again after a random pause.
        let firstNode = Int(random.next() % 3)
        let secondNode = (firstNode + 1 + Int(random.next() % 2)) % 3
        let natsServer = Int(random.next() % 3)
        var steps: [(pauseMilliseconds: Int, action: ChaosAction)] = []
        for action in [ChaosAction.node(firstNode), .nats(natsServer), .node(secondNode)] {
            steps.append((Int(500 + random.next() % 2_000), action))
        }
        let schedule = steps
        // A meterd node stays down longer than its lease, so that the others take its partitions
        // over (failover); a NATS server comes back sooner.
        let downtimes = steps.map { step -> Int in
            if case .node = step.action { return LocalCluster.leaseMilliseconds + 1_000 + Int(random.next() % 1_500) }
            return Int(300 + random.next() % 1_500)
        }
        let clientSeeds = (0..<4).map { _ in random.next() }
        print("cluster chaos: \(zip(steps, downtimes).map { "after \($0.0.pauseMilliseconds) ms kill \($0.0.action) for \($0.1) ms" })")

        let chaosDone = DoneFlag()
        let failovers = FailoverLog()
        let chaos: Task<String?, Never> = Task.detached {
            await withCheckedContinuation { continuation in
                Thread {
                    var failure: String?
                    do {
                        // The partitions spread over the three nodes first (each serves some), so
                        // that killing a node takes partitions away.
                        let spreadBy = Date(timeIntervalSinceNow: 60)
                        while (0..<3).contains(where: { cluster.partitionsServed(node: $0).isEmpty }) {
                            guard Date() < spreadBy else { throw LocalClusterError("the partitions did not spread over the nodes within 60 s") }
                            usleep(20_000)
                        }
                        for (step, downtime) in zip(schedule, downtimes) {
                            usleep(useconds_t(step.pauseMilliseconds * 1000))
                            switch step.action {
                            case .node(let index):
                                // Failover time: from the SIGKILL until every partition the node
                                // served is served again (by another node, or by it once restarted).
                                // A node restarted earlier gets its share back within a few ticks.
                                let servesBy = Date(timeIntervalSinceNow: 30)
                                while cluster.partitionsServed(node: index).isEmpty {
                                    guard Date() < servesBy else { throw LocalClusterError("node-\(index + 1) serves no partition when it is to be killed") }
                                    usleep(20_000)
                                }
                                let held = cluster.partitionsServed(node: index)
                                let killedAt = ContinuousClock.now
                                cluster.killNode(index)
                                var servedAgain: Duration?
                                func check() {
                                    if servedAgain == nil, held.isSubset(of: (0..<3).reduce(into: Set<Int>()) { $0.formUnion(cluster.partitionsServed(node: $1)) }) {
                                        servedAgain = ContinuousClock.now - killedAt
                                    }
                                }
                                while ContinuousClock.now - killedAt < .milliseconds(downtime) {
                                    check()
                                    usleep(20_000)
                                }
                                let restartedAt = ContinuousClock.now - killedAt
                                try cluster.startNode(index)
                                while servedAgain == nil && ContinuousClock.now - killedAt < .seconds(60) {
                                    check()
                                    usleep(20_000)
                                }
                                if servedAgain == nil || servedAgain! >= restartedAt {
                                    // Why the others did not take over: their lease lines.
                                    for other in 0..<3 where other != index {
                                        let lines = cluster.log(node: other).split(separator: "\n").filter { $0.contains("lease") }.suffix(8)
                                        print("cluster failover: node-\(other + 1) lease lines:\n" + lines.joined(separator: "\n"))
                                    }
                                }
                                failovers.add("node-\(index + 1) (partitions \(held.sorted())): served again after "
                                              + (servedAgain.map { "\($0)" } ?? "never (60 s)")
                                              + (servedAgain.map { $0 < restartedAt ? " by the other nodes" : " (after its restart at \(restartedAt))" } ?? ""),
                                              ok: servedAgain != nil)
                            case .nats(let seeded):
                                // The stream's leader when the logs tell (a leader election is
                                // the harder case), else the seeded one.
                                let index = cluster.streamLeader() ?? seeded
                                print("cluster chaos: killing NATS server n\(index + 1)")
                                cluster.killNATS(index)
                                usleep(useconds_t(downtime * 1000))
                                try cluster.startNATS(index)
                            }
                        }
                    } catch {
                        failure = "\(error)"
                    }
                    chaosDone.set()
                    continuation.resume(returning: failure)
                }.start()
            }
        }

        // Clients ingest until the chaos is over (and at least a few batches each), retrying a
        // batch that got no answer with the same event ids, on the next node.
        let outcomes = await withTaskGroup(of: ClientOutcome.self) { group in
            for (client, seed) in clientSeeds.enumerated() {
                group.addTask {
                    await Self.runClient(client, seed: seed, cluster: cluster, until: { chaosDone.isSet })
                }
            }
            var all: [ClientOutcome] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        if let failure = await chaos.value { XCTFail("chaos could not restart a process: \(failure)") }
        for (line, ok) in failovers.entries {
            print("cluster failover: \(line)")
            XCTAssertTrue(ok, line)
        }

        var expected: [String: Int64] = [:]
        var batches = 0, retries = 0, events = 0
        var longestWait = Duration.zero
        for outcome in outcomes {
            longestWait = max(longestWait, outcome.longestWait)
            for problem in outcome.problems { XCTFail(problem) }
            for (customer, thousandths) in outcome.expectedThousandths { expected[customer, default: 0] += thousandths }
            batches += outcome.batches
            retries += outcome.retries
            events += outcome.events
        }
        print("cluster clients: \(events) events in \(batches) acknowledged batches, \(retries) retried attempts; "
              + "longest wait for an acknowledgement (retries included): \(longestWait)")
        XCTAssertGreaterThan(retries, 0, "the chaos should have made some client retry")

        // Every node answers every customer's exact total: the owner of the customer's partition
        // from its engine, the two others by forwarding to it (polled: a partition may still be
        // rebuilding after the last kill).
        let at = Int64(Date().timeIntervalSince1970 * 1000) + 60_000
        var clients: [MeterClient] = []
        for node in 0..<3 { clients.append(try await MeterClient.connect(to: .unixSocket(path: cluster.socketPath(node: node)))) }
        let owners = (0..<3).map { cluster.partitionsServed(node: $0) }
        print("cluster partitions served: \(owners.enumerated().map { "node-\($0.offset + 1): \($0.element.sorted())" })")
        for customer in Self.customers {
            let want = expected[customer, default: 0]
            for (node, client) in clients.enumerated() {
                let deadline = Date(timeIntervalSinceNow: 60)
                var answer = ""
                var got: Int64?
                while true {
                    do {
                        let row = try await client.currentUsage(MeterClient.reference("tokens_used"), customerId: customer, atMilliseconds: at).row
                        got = Self.thousandths(row.value.isEmpty ? "0" : row.value)
                        answer = got.map(Self.text) ?? row.value
                    } catch {
                        got = nil
                        answer = "\(error)"
                    }
                    if got == want || Date() >= deadline { break }
                    usleep(50_000)
                }
                XCTAssertEqual(got, want, "node-\(node + 1), \(customer): \(answer), expected \(Self.text(want))")
            }
        }
        for client in clients { await client.close() }
        XCTAssertEqual(cluster.stop(), [0, 0, 0], "every node stops cleanly on SIGTERM")
    }

    /// Nodes must decide alike: one started with another late window than the cluster's first
    /// node refuses to join, says why, and exits with status 2.
    func testANodeWithOtherStateMachineSettingsRefusesToJoin() throws {
        guard LocalCluster.natsServerPath != nil else { throw XCTSkip("nats-server is not installed (scripts/test installs it: apt-get install nats-server)") }
        let directory = try TemporaryDirectory("meterd-cluster", removedBy: { addTeardownBlock($0) }).path
        let cluster = try LocalCluster(directory: directory, nodes: 1)
        defer { cluster.stop() }
        let odd = try cluster.launchExtraNode("node-odd", arguments: ["--late-window-seconds", "3600"])
        let deadline = Date(timeIntervalSinceNow: 90)
        while odd.isRunning && Date() < deadline { usleep(20_000) }
        XCTAssertFalse(odd.isRunning, "the node with other settings is still running:\n\(odd.log)")
        if odd.isRunning { odd.killAndWait() }
        XCTAssertEqual(odd.process.terminationStatus, 2)
        XCTAssertTrue(odd.log.contains("state-machine settings differ from the cluster's"), odd.log)
        XCTAssertTrue(odd.log.contains("late-window-ms=86400000"), "names the cluster's value:\n\(odd.log)")
        // The same settings join (a second node like the first).
        let alike = try cluster.launchExtraNode("node-alike", arguments: [])
        try alike.waitForLog(["meterd: cluster node node-alike caught up"], seconds: 90)
        XCTAssertEqual(alike.terminateAndWait(), 0)
    }

    enum ChaosAction: CustomStringConvertible, Sendable {
        case node(Int)
        case nats(Int)

        var description: String {
            switch self {
            case .node(let index): return "meterd node-\(index + 1)"
            case .nats(let index): return "the stream's leader NATS server (n\(index + 1) if no log names it)"
            }
        }
    }

    struct ClientOutcome: Sendable {
        var expectedThousandths: [String: Int64] = [:]
        var batches = 0
        var retries = 0
        var events = 0
        var problems: [String] = []
        /// From sending a round until both its batches were acknowledged, retries included.
        var longestWait = Duration.zero
    }

    /// One client: two lanes, each with one batch of 40 events (fresh ids, random customers, so
    /// several partitions: the receiving node writes its own parts and forwards the others) in
    /// flight, sent to the nodes in turn; a batch that gets no answer is sent again, unchanged,
    /// until acknowledged (or 120 s pass: a failure): to the node a refusal names as the
    /// partition's owner, else to the next node. Notes the longest wait for an answer.
    static func runClient(_ client: Int, seed: UInt64, cluster: LocalCluster, until done: @Sendable () -> Bool) async -> ClientOutcome {
        async let first = runLane(client, lane: 0, seed: seed, cluster: cluster, until: done)
        async let second = runLane(client, lane: 1, seed: seed &+ 1, cluster: cluster, until: done)
        var outcome = await first
        let other = await second
        for (customer, thousandths) in other.expectedThousandths { outcome.expectedThousandths[customer, default: 0] += thousandths }
        outcome.batches += other.batches
        outcome.retries += other.retries
        outcome.events += other.events
        outcome.problems += other.problems
        outcome.longestWait = max(outcome.longestWait, other.longestWait)
        return outcome
    }

    static func runLane(_ client: Int, lane: Int, seed: UInt64, cluster: LocalCluster, until done: @Sendable () -> Bool) async -> ClientOutcome {
        var random = SplitMix64(seed: seed)
        var outcome = ClientOutcome()
        var connections: [Int: MeterClient] = [:]
        var round = 0
        while !done() || round < 10 {
            var batch: [Meterd_V1_Event] = []
            var tokens: [(String, Int64)] = []
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            for index in 0..<40 {
                let customer = customers[Int(random.next() % UInt64(customers.count))]
                let thousandths = Int64(1 + random.next() % 100_000)
                var event = Meterd_V1_Event()
                event.eventID = "k\(client)-\(lane)-\(round)-\(index)"
                event.eventName = "tokens_used"
                event.customerID = customer
                event.timestampMs = now
                var property = Meterd_V1_Property()
                property.key = "tokens"
                property.value.decimalValue = text(thousandths)
                event.properties = [property]
                batch.append(event)
                tokens.append((customer, thousandths))
            }
            let started = ContinuousClock.now
            let deadline = Date(timeIntervalSinceNow: 120)
            var attempt = 0
            var node = (client + lane + round) % 3
            while true {
                attempt += 1
                do {
                    if connections[node] == nil {
                        connections[node] = try await MeterClient.connect(to: .unixSocket(path: cluster.socketPath(node: node)), timeout: .seconds(5))
                    }
                    let response = try await connections[node]!.ingestBatch(batch, timeout: .seconds(30))
                    let counted = response.results.filter { $0.status == .accepted }.count
                    if response.results.count != batch.count || Int(response.accepted) != counted
                        || Int(response.accepted + response.duplicates + response.rejected) != batch.count {
                        outcome.problems.append("client \(client) lane \(lane) round \(round): \(response.results.count) results, counts "
                                                + "\(response.accepted)/\(response.duplicates)/\(response.rejected) for \(batch.count) events (\(counted) accepted)")
                    }
                    for (index, result) in response.results.enumerated() {
                        switch result.status {
                        case .accepted: break
                        case .duplicate where attempt > 1: break
                        default: outcome.problems.append("client \(client) lane \(lane) round \(round) attempt \(attempt) event \(index): \(result.status) \(result.message)")
                        }
                    }
                    break
                } catch {
                    let named = ownerNamed(in: "\(error)")
                    if named == nil {
                        // Not a refusal naming the owner: the node may be down; drop the connection.
                        await connections[node]?.close()
                        connections[node] = nil
                    }
                    if Date() >= deadline {
                        outcome.problems.append("client \(client) lane \(lane) round \(round): no acknowledgement within 120 s, last error \(error)")
                        for connection in connections.values { await connection.close() }
                        return outcome
                    }
                    outcome.retries += 1
                    if let named, named != node {
                        node = named
                    } else {
                        node = (node + 1) % 3
                        // Back off before retrying (the node may be restarting, or rebuilding).
                        try? await Task.sleep(for: .milliseconds(100))
                    }
                }
            }
            outcome.longestWait = max(outcome.longestWait, ContinuousClock.now - started)
            for (customer, thousandths) in tokens { outcome.expectedThousandths[customer, default: 0] += thousandths }
            outcome.events += batch.count
            outcome.batches += 1
            round += 1
        }
        for connection in connections.values { await connection.close() }
        return outcome
    }

    /// The node index a refusal names as a partition's owner ("... is owned by node-2 at ..."), if any.
    static func ownerNamed(in message: String) -> Int? {
        guard let range = message.range(of: "is owned by node-") else { return nil }
        return Int(message[range.upperBound...].prefix { $0.isNumber }).map { $0 - 1 }
    }

    /// 12345 thousandths as "12.345".
    static func text(_ thousandths: Int64) -> String {
        let fraction = String(thousandths % 1000)
        return "\(thousandths / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }

    /// "12.345" (or "12.3", "12") as 12345 thousandths; nil for anything finer or not a number.
    static func thousandths(_ value: String) -> Int64? {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = Int64(parts[0]) else { return nil }
        var fraction = parts.count == 2 ? String(parts[1]) : ""
        guard fraction.count <= 3, fraction.allSatisfy(\.isNumber) else { return nil }
        fraction += String(repeating: "0", count: 3 - fraction.count)
        return whole * 1000 + Int64(fraction)!
    }
}

/// What the chaos thread measured of each failover (a line each, and whether it completed).
final class FailoverLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [(String, Bool)] = []
    var entries: [(String, Bool)] { lock.withLock { lines } }
    func add(_ line: String, ok: Bool) { lock.withLock { lines.append((line, ok)) } }
}

/// Set once by the chaos thread when every process is running again.
final class DoneFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
#endif
