import Foundation
import MeterProto
import MeterWire

/// meterd started as a child process with its own data directory, reached over its Unix socket,
/// over TCP on loopback, or over its HTTP listener (CloudEvents JSON; usage still read over the
/// binary protocol), durability `fsync` (acknowledged = fdatasync'ed).
final class MeterdSystem: BenchSystem, @unchecked Sendable {
    enum Transport: String, Sendable { case unix, tcp, http }

    let binary: String
    let directory: String
    let transport: Transport
    /// Arguments after the benchmark's own; changed between restarts by the snapshot-pause workload.
    var extraArguments: [String]
    private var child: ChildProcess?
    private(set) var tcpPort = 0
    private(set) var httpPort = 0
    /// Seconds from spawning the process to its first Health answer, for the last start.
    private(set) var lastStartSeconds = 0.0

    var key: String { "meterd-\(transport.rawValue)" }
    var label: String {
        switch transport {
        case .unix: return "meterd (Unix socket)"
        case .tcp: return "meterd (TCP)"
        case .http: return "meterd (HTTP JSON)"
        }
    }
    var socketPath: String { directory + "/meterd.sock" }
    var dataDirectory: String { directory + "/data" }

    /// Events may be up to 35 days old (the query workload spans 30 days), so ids are remembered 36 days.
    static let benchmarkArguments = [
        "--durability", "fsync", "--late-window-seconds", "3024000", "--dedup-window-seconds", "3110400",
    ]

    var settingsDescription: String {
        "meterd " + (Self.benchmarkArguments + extraArguments).joined(separator: " ") + " (other settings default: snapshot every 50000 records, batches up to 10000 events, 64 requests in flight per connection)"
    }

    init(binary: String, directory: String, transport: Transport, extraArguments: [String] = []) throws {
        self.binary = binary
        self.directory = directory
        self.transport = transport
        self.extraArguments = extraArguments
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try start()
        try createMeters()
    }

    /// Starts meterd on the existing data directory and waits until it answers Health.
    func start() throws {
        let began = DispatchTime.now()
        let process = try ChildProcess(
            executable: binary,
            arguments: ["--data-dir", dataDirectory, "--socket", socketPath, "--tcp", "127.0.0.1:0"]
                + (transport == .http ? ["--http", "127.0.0.1:0"] : []) + Self.benchmarkArguments + extraArguments,
            logPath: directory + "/meterd.log")
        // The wire listener's line, and the HTTP listener's when there is one, in either order.
        var waiting: Set<String> = transport == .http ? ["meterd: listening on", "meterd: http on"] : ["meterd: listening on"]
        while !waiting.isEmpty {
            guard let line = process.waitForLine(where: { line in waiting.contains { line.hasPrefix($0) } }) else {
                let log = (try? String(contentsOfFile: directory + "/meterd.log", encoding: .utf8)) ?? ""
                throw BenchError("meterd exited before listening: \(log.suffix(2000))")
            }
            if line.hasPrefix("meterd: listening on"), let range = line.range(of: "tcp:127.0.0.1:") {
                tcpPort = Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
                waiting.remove("meterd: listening on")
            } else if line.hasPrefix("meterd: http on"), let range = line.range(of: "http://127.0.0.1:") {
                httpPort = Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
                waiting.remove("meterd: http on")
            }
        }
        process.drainOutputToLog()
        child = process
        let connection = try WireConnection(address, credential: transport == .tcp ? bootstrapKey : "")
        let health = try connection.call(.healthCheck, Meterd_V1_HealthCheckRequest(), as: Meterd_V1_HealthCheckResponse.self)
        guard health.status == .serving else { throw BenchError("meterd is not serving: \(health.message)") }
        lastStartSeconds = Double(DispatchTime.now().uptimeNanoseconds - began.uptimeNanoseconds) / 1e9
    }

    /// The binary protocol's address (the HTTP system reads usage and counters through its socket).
    var address: WireConnection.Address {
        transport == .tcp ? .tcp(port: tcpPort) : .unix(socketPath)
    }

    /// The admin key meterd wrote into its new data directory (TCP needs a key).
    var bootstrapKey: String {
        ((try? String(contentsOfFile: dataDirectory + "/bootstrap-admin.key", encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The version meterd reports in Health/ServerInfo.
    func serverVersion() throws -> String {
        try WireConnection(address, credential: transport == .tcp ? bootstrapKey : "").call(.serverInfo, Meterd_V1_ServerInfoRequest(), as: Meterd_V1_ServerInfoResponse.self).version
    }

    /// Group commits and log fdatasyncs since meterd started (Health/ServerInfo).
    func commitCounters() throws -> (groupCommits: Int, syncs: Int) {
        let info = try WireConnection(address, credential: transport == .tcp ? bootstrapKey : "").call(.serverInfo, Meterd_V1_ServerInfoRequest(), as: Meterd_V1_ServerInfoResponse.self)
        return (Int(info.groupCommits), Int(info.syncs))
    }

    var processIdentifier: Int32? { child?.processIdentifier }

    /// Stops meterd: SIGTERM lets it write its final snapshot; SIGKILL leaves only the log.
    func halt(signal: Int32 = SIGTERM) {
        child?.stop(signal: signal)
        child = nil
    }

    private func createMeters() throws {
        let connection = try WireConnection(address, credential: transport == .tcp ? bootstrapKey : "")
        for meter in BenchMeter.allCases {
            var definition = Meterd_V1_MeterDefinition()
            definition.eventName = meter.eventName
            definition.displayName = meter.displayName
            if let filter = meter.filter {
                var meterFilter = Meterd_V1_MeterFilter()
                meterFilter.key = filter.key
                meterFilter.values = filter.values
                definition.filters = [meterFilter]
            }
            switch meter.aggregation {
            case .sum: definition.aggregation = .sum
            case .count: definition.aggregation = .count
            case .countUnique: definition.aggregation = .countUnique
            }
            definition.field = meter.field ?? ""
            definition.reset = .periodic
            definition.billingPeriod = .monthly
            var request = Meterd_V1_CreateMeterRequest()
            request.definition = definition
            _ = try connection.call(.createMeter, request, as: Meterd_V1_CreateMeterResponse.self)
        }
    }

    func connect() throws -> any BenchConnection {
        let wire = try MeterdConnection(WireConnection(address, credential: transport == .tcp ? bootstrapKey : ""))
        guard transport == .http else { return wire }
        return try MeterdHTTPConnection(port: httpPort, apiKey: bootstrapKey, queries: wire)
    }

    /// A fresh data directory: stop, delete, start, define the meters again.
    func reset() throws {
        halt()
        try? FileManager.default.removeItem(atPath: dataDirectory)
        try start()
        try createMeters()
    }

    func residentBytes() -> Int? { processIdentifier.flatMap { DatabaseProcess.residentBytes(pid: $0) } }

    func stop() {
        halt()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
