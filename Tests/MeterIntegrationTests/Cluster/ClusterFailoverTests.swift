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
/// once, and every node must answer the same usage.
final class ClusterFailoverTests: XCTestCase {
    static let customers = (0..<5).map { "customer-\($0)" }

    func testEveryAcknowledgedEventIsCountedOnceOnEveryNodeWhileNodesAndANATSServerAreKilled() async throws {
        guard LocalCluster.natsServerPath != nil else { throw XCTSkip("nats-server is not installed (scripts/test installs it: apt-get install nats-server)") }
        var random = TestSeed.generator(for: "ClusterFailoverTests")
        let directory = try TemporaryDirectory("meterd-cluster", removedBy: { addTeardownBlock($0) }).path
        let cluster = try LocalCluster(directory: directory, nodes: 3)
        defer { cluster.stop() }

        let admin = try await MeterClient.connect(to: .unixSocket(path: cluster.socketPath(node: 0)))
        var definition = Meterd_V1_MeterDefinition()
        definition.eventName = "tokens_used"
        definition.displayName = "Tokens"
        definition.aggregation = .sum
        definition.field = "tokens"
        definition.reset = .cumulative
        _ = try await admin.createMeter(definition, timeout: .seconds(30))
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
        let downtimes = steps.map { _ in Int(300 + random.next() % 1_500) }
        let clientSeeds = (0..<4).map { _ in random.next() }
        print("cluster chaos: \(zip(steps, downtimes).map { "after \($0.0.pauseMilliseconds) ms kill \($0.0.action) for \($0.1) ms" })")

        let chaosDone = DoneFlag()
        let chaos: Task<String?, Never> = Task.detached {
            await withCheckedContinuation { continuation in
                Thread {
                    var failure: String?
                    do {
                        for (step, downtime) in zip(schedule, downtimes) {
                            usleep(useconds_t(step.pauseMilliseconds * 1000))
                            switch step.action {
                            case .node(let index):
                                cluster.killNode(index)
                                usleep(useconds_t(downtime * 1000))
                                try cluster.startNode(index)
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

        // Every node answers every customer's exact total (polled: a node may still be catching up).
        let at = Int64(Date().timeIntervalSince1970 * 1000) + 60_000
        for node in 0..<3 {
            let client = try await MeterClient.connect(to: .unixSocket(path: cluster.socketPath(node: node)))
            for customer in Self.customers {
                let want = expected[customer, default: 0]
                let deadline = Date(timeIntervalSinceNow: 60)
                var got: Int64?
                while true {
                    let row = try await client.currentUsage(MeterClient.reference("tokens_used"), customerId: customer, atMilliseconds: at).row
                    got = Self.thousandths(row.value.isEmpty ? "0" : row.value)
                    if got == want || Date() >= deadline { break }
                    usleep(50_000)
                }
                XCTAssertEqual(got, want, "node-\(node + 1), \(customer): usage \(got.map(Self.text) ?? "unparseable"), expected \(Self.text(want))")
            }
            await client.close()
        }
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

    /// One client: two batches of 40 events with fresh ids in flight at once on its connection
    /// (pipelined); when either gets no answer, both are sent again, unchanged, to the next node
    /// until acknowledged (or 120 s pass: a failure). Notes the longest wait for an answer.
    static func runClient(_ client: Int, seed: UInt64, cluster: LocalCluster, until done: @Sendable () -> Bool) async -> ClientOutcome {
        var random = SplitMix64(seed: seed)
        var outcome = ClientOutcome()
        var node = client % 3
        var connection: MeterClient?
        var round = 0
        while !done() || round < 10 {
            var batches: [[Meterd_V1_Event]] = [[], []]
            var tokens: [(String, Int64)] = []
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            for half in 0..<2 {
                for index in 0..<40 {
                    let customer = customers[Int(random.next() % UInt64(customers.count))]
                    let thousandths = Int64(1 + random.next() % 100_000)
                    var event = Meterd_V1_Event()
                    event.eventID = "k\(client)-\(round)-\(half)-\(index)"
                    event.eventName = "tokens_used"
                    event.customerID = customer
                    event.timestampMs = now
                    var property = Meterd_V1_Property()
                    property.key = "tokens"
                    property.value.decimalValue = text(thousandths)
                    event.properties = [property]
                    batches[half].append(event)
                    tokens.append((customer, thousandths))
                }
            }
            let started = ContinuousClock.now
            let deadline = Date(timeIntervalSinceNow: 120)
            var attempt = 0
            while true {
                attempt += 1
                do {
                    if connection == nil { connection = try await MeterClient.connect(to: .unixSocket(path: cluster.socketPath(node: node)), timeout: .seconds(5)) }
                    let open = connection!
                    let firstBatch = batches[0], secondBatch = batches[1]
                    async let first = open.ingestBatch(firstBatch, timeout: .seconds(30))
                    async let second = open.ingestBatch(secondBatch, timeout: .seconds(30))
                    let responses = try await [first, second]
                    for (half, response) in responses.enumerated() {
                        for (index, result) in response.results.enumerated() {
                            switch result.status {
                            case .accepted: break
                            case .duplicate where attempt > 1: break
                            default: outcome.problems.append("client \(client) round \(round) batch \(half) attempt \(attempt) event \(index): \(result.status) \(result.message)")
                            }
                        }
                    }
                    break
                } catch {
                    await connection?.close()
                    connection = nil
                    if Date() >= deadline {
                        outcome.problems.append("client \(client) round \(round): no acknowledgement within 120 s, last error \(error)")
                        return outcome
                    }
                    outcome.retries += 1
                    node = (node + 1) % 3
                    // Back off before retrying (the node may be restarting).
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            outcome.longestWait = max(outcome.longestWait, ContinuousClock.now - started)
            for (customer, thousandths) in tokens { outcome.expectedThousandths[customer, default: 0] += thousandths }
            outcome.events += tokens.count
            outcome.batches += 2
            round += 1
        }
        await connection?.close()
        return outcome
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

/// Set once by the chaos thread when every process is running again.
final class DoneFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
#endif
