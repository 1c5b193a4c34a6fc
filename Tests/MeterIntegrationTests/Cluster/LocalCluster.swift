// Built with the Cluster trait only (`swift test --traits Cluster`): meterd's cluster mode links libnats.
#if Cluster
import Foundation
import MeterProto
import XCTest

/// A NATS cluster of three servers with JetStream and meterd nodes in cluster mode, all on
/// loopback in one temporary directory (what scripts/cluster-up starts, with free ports), for
/// the cluster tests. Each process can be SIGKILLed and started again on the same directory.
/// Unchecked Sendable: one thread at a time starts and kills processes (the test's chaos
/// thread, then the test); clients only read the fixed socket paths.
final class LocalCluster: @unchecked Sendable {
    let directory: String
    let clientPorts: [Int]
    let routePorts: [Int]
    private(set) var natsServers: [LoggedProcess?]
    private(set) var nodes: [LoggedProcess?]
    let nodeCount: Int
    /// Arguments added to node `index`'s command line (`--tcp` there replaces `--no-tcp`).
    let nodeArguments: @Sendable (Int) -> [String]

    /// The meter the cluster tests create: `tokens_used`, SUM of `tokens`, cumulative.
    static var tokensMeter: Meterd_V1_MeterDefinition {
        var definition = Meterd_V1_MeterDefinition()
        definition.eventName = "tokens_used"
        definition.displayName = "Tokens"
        definition.aggregation = .sum
        definition.field = "tokens"
        definition.reset = .cumulative
        return definition
    }

    static var natsServerPath: String? {
        for directory in ["/usr/sbin", "/usr/bin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: directory + "/nats-server") {
            return directory + "/nats-server"
        }
        return nil
    }

    init(directory: String, nodes nodeCount: Int, nodeArguments: @escaping @Sendable (Int) -> [String] = { _ in [] }) throws {
        self.directory = directory
        self.nodeCount = nodeCount
        self.nodeArguments = nodeArguments
        let ports = try Self.freePorts(6)
        clientPorts = Array(ports[0..<3])
        routePorts = Array(ports[3..<6])
        natsServers = [nil, nil, nil]
        nodes = Array(repeating: nil, count: nodeCount)
        for index in 0..<3 { try startNATS(index) }
        for index in 0..<nodeCount { try startNode(index) }
    }

    var natsURLs: String { clientPorts.map { "nats://127.0.0.1:\($0)" }.joined(separator: ",") }

    func socketPath(node: Int) -> String { "\(directory)/node-\(node + 1)/meterd.sock" }

    /// The partition lease of the test's nodes (meterd's default is 3000 ms).
    static let leaseMilliseconds = 2_000

    /// The partitions node `index` holds and serves now, from its log ("serves partition N" minus
    /// "stopped partition N" lines of its current start); empty when it is not running.
    func partitionsServed(node index: Int) -> Set<Int> {
        guard let log = nodes[index]?.log else { return [] }
        var served: Set<Int> = []
        for line in log.split(separator: "\n") {
            if let partition = Self.number(after: " serves partition ", in: line) { served.insert(partition) }
            if let partition = Self.number(after: " stopped partition ", in: line) { served.remove(partition) }
        }
        return served
    }

    /// Waits until every one of `partitions` is served and the nodes are balanced (each serves
    /// some, none more than its share), so that partitions are not moving.
    func waitUntilPartitionsSpread(_ partitions: Int = 8, seconds: Double = 60) throws {
        let deadline = Date(timeIntervalSinceNow: seconds)
        let share = (partitions + nodeCount - 1) / nodeCount
        while true {
            let served = (0..<nodeCount).map { partitionsServed(node: $0) }
            if served.allSatisfy({ !$0.isEmpty && $0.count <= share }), served.reduce(into: Set<Int>(), { $0.formUnion($1) }).count == partitions { return }
            guard Date() < deadline else { throw LocalClusterError("the partitions did not spread over the nodes within \(seconds) s: \(served)") }
            usleep(20_000)
        }
    }

    /// Node `index`'s log of its current start ("" when it is not running).
    func log(node index: Int) -> String { nodes[index]?.log ?? "" }

    private static func number(after marker: String, in line: Substring) -> Int? {
        guard let range = line.range(of: marker) else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    func startNATS(_ index: Int) throws {
        guard let server = Self.natsServerPath else { throw LocalClusterError("nats-server is not installed") }
        let home = "\(directory)/nats-\(index + 1)"
        try FileManager.default.createDirectory(atPath: home + "/jetstream", withIntermediateDirectories: true)
        let routes = (0..<3).filter { $0 != index }.map { "nats-route://127.0.0.1:\(routePorts[$0])" }.joined(separator: ", ")
        let config = """
            server_name: n\(index + 1)
            listen: 127.0.0.1:\(clientPorts[index])
            jetstream {
                store_dir: "\(home)/jetstream"
                max_memory_store: 64MB
                max_file_store: 2GB
            }
            cluster {
                name: meterd-test
                listen: 127.0.0.1:\(routePorts[index])
                routes: [\(routes)]
            }

            """
        try config.write(toFile: home + "/nats.conf", atomically: true, encoding: .utf8)
        let process = try LoggedProcess(executable: server, arguments: ["-c", home + "/nats.conf"], logPath: home + "/log")
        natsServers[index] = process
        try process.waitForLog(["Server is ready"], seconds: 30)
    }

    func startNode(_ index: Int) throws {
        let home = "\(directory)/node-\(index + 1)"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        // A fresh log per start: readiness is looked for in this start's lines only.
        try? FileManager.default.removeItem(atPath: home + "/log")
        let meterd = ChildProcess.binaryDirectory.appendingPathComponent("meterd").path
        let extra = nodeArguments(index)
        let process = try LoggedProcess(executable: meterd, arguments: [
            "--data-dir", home, "--socket", socketPath(node: index),
            "--cluster-nats", natsURLs, "--cluster-node", "node-\(index + 1)", "--cluster-lease-ms", "\(Self.leaseMilliseconds)",
        ] + (extra.contains("--tcp") ? [] : ["--no-tcp"]) + extra, logPath: home + "/log")
        nodes[index] = process
        try process.waitForLog(["meterd: listening on", "meterd: cluster node node-\(index + 1)"], seconds: 90)
    }

    /// The NATS server leading the stream, from the servers' logs (the leader logs "new stream
    /// leader"); the latest such line wins. nil when no log says so.
    func streamLeader(stream: String = "METERD") -> Int? {
        var latest: (index: Int, line: String)?
        for (index, server) in natsServers.enumerated() {
            guard let server else { continue }
            // Lines start with "[pid] 2026/11/29 09:07:27.844333": comparable as text after the pid.
            for line in server.log.split(separator: "\n") where line.contains("new stream leader for '$G > \(stream)'") {
                let stamp = String(line.drop { $0 != "]" })
                if latest == nil || stamp > latest!.line { latest = (index, stamp) }
            }
        }
        return latest?.index
    }

    /// Starts a meterd node outside `nodes` (named `name`, with `arguments` added), without
    /// waiting for it: for nodes expected to refuse to start.
    func launchExtraNode(_ name: String, arguments: [String]) throws -> LoggedProcess {
        let home = "\(directory)/\(name)"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let meterd = ChildProcess.binaryDirectory.appendingPathComponent("meterd").path
        return try LoggedProcess(executable: meterd, arguments: [
            "--data-dir", home, "--socket", home + "/meterd.sock", "--cluster-nats", natsURLs, "--cluster-node", name,
        ] + (arguments.contains("--tcp") ? [] : ["--no-tcp"]) + arguments, logPath: home + "/log")
    }

    /// SIGTERM to node `index` (it gives its leases back); its exit status.
    @discardableResult
    func stopNode(_ index: Int) -> Int32? {
        defer { nodes[index] = nil }
        return nodes[index]?.terminateAndWait()
    }

    func killNode(_ index: Int) {
        nodes[index]?.killAndWait()
        nodes[index] = nil
    }

    func killNATS(_ index: Int) {
        natsServers[index]?.killAndWait()
        natsServers[index] = nil
    }

    /// SIGTERM to every node, then every NATS server; the nodes' exit statuses.
    @discardableResult
    func stop() -> [Int32] {
        let statuses = nodes.compactMap { $0?.terminateAndWait() }
        nodes = Array(repeating: nil, count: nodeCount)
        for server in natsServers { server?.terminateAndWait() }
        natsServers = [nil, nil, nil]
        return statuses
    }

    /// Ports the kernel hands out for 127.0.0.1:0 right now (closed again; free unless another
    /// process takes them in between).
    static func freePorts(_ count: Int) throws -> [Int] {
        var descriptors: [Int32] = []
        defer { for descriptor in descriptors { close(descriptor) } }
        var ports: [Int] = []
        for _ in 0..<count {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw LocalClusterError("socket() failed") }
            descriptors.append(descriptor)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = 0
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
            guard bound == 0 else { throw LocalClusterError("bind() failed") }
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }
}
#endif
