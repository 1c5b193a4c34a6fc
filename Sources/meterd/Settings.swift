import ArgumentParser
import Foundation
import Logging
import MeterCluster
import MeterCore
import MeterEngine
import MeterHTTP
import MeterOperations
import MeterServer
import MeterWireServer
import MeterWire

/// The engine and server configuration from defaults, an optional config file and the command line.
struct Settings {
    var engine: EngineOptions
    var server: ServerConfiguration
    /// Keys, local users and quotas (docs/security.md).
    var access = AccessSettings()
    /// Least severe level logged (`log-level`, default info).
    var logLevel = Logger.Level.info
    /// `log-format`: text (default) or json.
    var logFormat = LogFormat.text
    /// `metrics`: where /metrics is served; nil (the default) serves none.
    var metricsAddress: (host: String, port: Int)?
    /// `http`: where the HTTP API and console listen; nil (the default) serves none.
    var httpAddress: (host: String, port: Int)?
    /// `cluster-nats` and friends: cluster mode (docs/cluster.md); nil (the default): one node.
    var cluster: ClusterOptions?
    /// `cluster-tls-ca`: forwarding over TCP uses TLS (nil: plaintext, loopback or --allow-plaintext-tcp peers).
    var clusterTLS: ForwardingTLS?
    /// `webhook-url`, `webhook-secret-file`, `webhook-max-attempts`: nil (the default) posts none.
    var webhook: WebhookConfiguration?

    init(command: Meterd) throws {
        var file: [String: String] = [:]
        if let path = command.config { file = try Self.readConfigFile(path) }
        func value(_ name: String, _ commandLine: String?) -> String? { commandLine ?? file[name] }
        func integer(_ name: String, _ commandLine: Int?) throws -> Int? {
            if let commandLine { return commandLine }
            guard let text = file[name] else { return nil }
            guard let number = Int(text) else { throw ValidationError("\(name) in the config file must be a whole number, got \"\(text)\"") }
            return number
        }
        func flag(_ name: String, _ commandLine: Bool) -> Bool { commandLine || file[name] == "true" }

        engine = EngineOptions(dataDirectory: value("data-dir", command.dataDir) ?? "./meterd-data")
        server = ServerConfiguration()
        server.unixSocketPath = flag("no-socket", command.noSocket) ? nil : (value("socket", command.socket) ?? "./meterd.sock")
        if let mode = value("socket-mode", command.socketMode) {
            guard let bits = UInt16(mode, radix: 8), bits <= 0o777 else { throw ValidationError("socket-mode must be octal permission bits like 600, got \"\(mode)\"") }
            server.unixSocketPermissions = bits
        }
        if flag("no-tcp", command.noTcp) {
            server.tcpHost = nil
        } else if let address = value("tcp", command.tcp) {
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else {
                throw ValidationError("tcp must be HOST:PORT, got \"\(address)\"")
            }
            server.tcpHost = String(address[..<colon])
            server.tcpPort = port
        }
        if server.unixSocketPath == nil && server.tcpHost == nil { throw ValidationError("both the socket and TCP are switched off: nothing to listen on") }
        if let mode = value("durability", command.durability) {
            guard let durability = Durability(parsing: mode) else { throw ValidationError("durability must be fsync, interval, interval:MS or none, got \"\(mode)\"") }
            engine.durability = durability
        }
        if let bytes = try integer("max-frame-bytes", command.maxFrameBytes) {
            // A client must accept 64 KiB frames (docs/protocol.md), so the server offers at least that.
            guard bytes >= WireLimits.minimumFrameBytes else {
                throw ValidationError("max-frame-bytes must be at least \(WireLimits.minimumFrameBytes) (64 KiB, the protocol's minimum), got \(bytes)")
            }
            server.limits.maximumFrameBytes = bytes
        }
        if let events = try integer("max-batch-events", command.maxBatchEvents) {
            server.limits.maximumBatchEvents = try Self.positive("max-batch-events", events)
            engine.core.limits.batchMaximumEvents = events
        }
        if let count = try integer("max-in-flight", command.maxInFlight) { server.limits.maximumInFlight = try Self.positive("max-in-flight", count) }
        if let count = try integer("max-connections", command.maxConnections) { server.maximumConnections = try Self.positive("max-connections", count) }
        if let seconds = try integer("idle-timeout-seconds", command.idleTimeoutSeconds) { server.idleTimeout = .seconds(try Self.positive("idle-timeout-seconds", seconds)) }
        if let seconds = try integer("handshake-timeout-seconds", command.handshakeTimeoutSeconds) { server.handshakeTimeout = .seconds(try Self.positive("handshake-timeout-seconds", seconds)) }
        if let events = try integer("queue-events", command.queueEvents) { engine.queueCapacityEvents = try Self.positive("queue-events", events) }
        if let records = try integer("snapshot-every-records", command.snapshotEveryRecords) { engine.snapshotEveryRecords = UInt64(try Self.positive("snapshot-every-records", records)) }
        if let percent = try integer("snapshot-log-growth-percent", command.snapshotLogGrowthPercent) {
            guard percent >= 0 else { throw ValidationError("snapshot-log-growth-percent must be 0 or more, got \(percent)") }
            engine.snapshotMinimumLogGrowth = Double(percent) / 100
        }
        if let rate = try integer("snapshot-write-mib-per-second", command.snapshotWriteMibPerSecond) {
            guard rate >= 0 else { throw ValidationError("snapshot-write-mib-per-second must be 0 or more, got \(rate)") }
            engine.snapshotWriteBytesPerSecond = rate << 20
        }
        if let hours = try integer("retention-hours", command.retentionHours) { engine.retentionMilliseconds = Int64(try Self.positive("retention-hours", hours)) * 3_600_000 }
        if let seconds = try integer("late-window-seconds", command.lateWindowSeconds) { engine.core.lateWindowMilliseconds = Int64(seconds) * 1000 }
        if let seconds = try integer("future-skew-seconds", command.futureSkewSeconds) { engine.core.futureSkewMilliseconds = Int64(seconds) * 1000 }
        if let seconds = try integer("dedup-window-seconds", command.dedupWindowSeconds) { engine.core.dedupWindowMilliseconds = Int64(seconds) * 1000 }
        if let count = try integer("dedup-max-ids", command.dedupMaxIds) {
            guard (1...EventLimits.dedupMaximumIdsUpperBound).contains(count) else {
                throw ValidationError("dedup-max-ids must be 1 to \(EventLimits.dedupMaximumIdsUpperBound), got \(count)")
            }
            engine.core.limits.dedupMaximumIds = count
        }
        engine.core.minuteRetentionMilliseconds = Swift.max(engine.core.minuteRetentionMilliseconds, engine.core.lateWindowMilliseconds + engine.core.futureSkewMilliseconds + 3_600_000)
        engine.repair = flag("repair", command.repair)
        if let level = value("log-level", command.logLevel) {
            guard let parsed = Logger.Level(rawValue: level) else {
                throw ValidationError("log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(level)\"")
            }
            logLevel = parsed
        }
        if let format = value("log-format", command.logFormat) {
            guard let parsed = LogFormat(rawValue: format) else { throw ValidationError("log-format must be text or json, got \"\(format)\"") }
            logFormat = parsed
        }
        if let address = value("metrics", command.metrics), address != "off" {
            guard let parsed = MetricsEndpoint.parseAddress(address) else {
                throw ValidationError("metrics must be HOST:PORT (for example 127.0.0.1:9464) or off, got \"\(address)\"")
            }
            metricsAddress = parsed
        }
        let certificate = value("tls-certificate", command.tlsCertificate)
        let key = value("tls-key", command.tlsKey)
        switch (certificate, key) {
        case (let certificate?, let key?):
            server.tls = ServerTLS(certificateChainPath: certificate, privateKeyPath: key,
                                   clientCertificateAuthorityPath: value("tls-client-ca", command.tlsClientCa))
        case (nil, nil):
            if value("tls-client-ca", command.tlsClientCa) != nil { throw ValidationError("tls-client-ca needs tls-certificate and tls-key") }
        default:
            throw ValidationError("tls-certificate and tls-key go together: give both or neither")
        }
        if let host = server.tcpHost, server.tls == nil, !Self.isLoopback(host), !flag("allow-plaintext-tcp", command.allowPlaintextTcp) {
            throw ValidationError("tcp \(host) is not a loopback address and TLS is off: API keys would cross the network in plaintext. Give --tls-certificate and --tls-key, or --allow-plaintext-tcp to accept that")
        }
        if let rate = try integer("quota-events-per-second", command.quotaEventsPerSecond) {
            guard rate >= 0 else { throw ValidationError("quota-events-per-second must be 0 or more, got \(rate)") }
            access.defaultQuota.eventsPerSecond = rate
        }
        if let meters = try integer("quota-meters", command.quotaMeters) {
            guard meters >= 0 else { throw ValidationError("quota-meters must be 0 or more, got \(meters)") }
            access.defaultQuota.meters = meters
        }
        if let customers = try integer("quota-customers-per-meter", command.quotaCustomersPerMeter) {
            guard customers >= 0 else { throw ValidationError("quota-customers-per-meter must be 0 or more, got \(customers)") }
            access.defaultQuota.cardinality.customersPerMeter = customers
        }
        if let series = try integer("quota-series-per-meter", command.quotaSeriesPerMeter) {
            guard series >= 0 else { throw ValidationError("quota-series-per-meter must be 0 or more, got \(series)") }
            access.defaultQuota.cardinality.seriesPerMeter = series
        }
        var tenantQuotas = command.tenantQuota
        if tenantQuotas.isEmpty, let fromFile = file["tenant-quota"] { tenantQuotas = fromFile.split(separator: ";").map(String.init) }
        for text in tenantQuotas {
            access.tenantQuotas.merge([try Self.tenantQuota(text, defaults: access.defaultQuota)]) { $1 }
        }
        // Customers and series per meter are decided by the engine when it screens events.
        engine.core.quotas = CardinalityQuotas(defaultQuota: access.defaultQuota.cardinality,
                                               overrides: access.tenantQuotas.mapValues(\.cardinality))
        var peerRules = command.peerAccess
        if peerRules.isEmpty, let fromFile = file["peer-access"] { peerRules = fromFile.split(separator: ",").map(String.init) }
        for text in peerRules {
            guard let rule = PeerAccessRule(parsing: text) else {
                throw ValidationError("peer-access must be UID=TENANT:ROLE with a numeric uid, a valid tenant id and a role of admin, ingest or read, got \"\(text)\"")
            }
            access.configuration.peerRules[rule.uid] = rule
        }
        if flag("no-owner-access", command.noOwnerAccess) { access.configuration.socketOwnerUid = nil }
        if let milliseconds = try integer("refused-handshake-delay-ms", command.refusedHandshakeDelayMs) {
            guard milliseconds >= 0 else { throw ValidationError("refused-handshake-delay-ms must be 0 or more, got \(milliseconds)") }
            access.configuration.refusalDelay = .milliseconds(milliseconds)
        }
        if let address = value("http", command.http), address != "off" {
            guard let parsed = MetricsEndpoint.parseAddress(address) else {
                throw ValidationError("http must be HOST:PORT (for example 127.0.0.1:7880) or off, got \"\(address)\"")
            }
            // With TLS (the TCP listener's certificate) HTTP serves HTTPS; without it, API keys
            // (Authorization: Bearer, the console's cookie) must not cross the network in plaintext.
            guard server.tls != nil || Self.isLoopback(parsed.host) else {
                throw ValidationError("http \(parsed.host) is not a loopback address and TLS is off: API keys would cross the network in plaintext. Give --tls-certificate and --tls-key (HTTP then serves HTTPS), or bind 127.0.0.1, ::1 or localhost; got \"\(address)\"")
            }
            httpAddress = parsed
        }
        if value("cluster-nats", command.clusterNats) == nil {
            for (name, given) in [("cluster-secret-file", value("cluster-secret-file", command.clusterSecretFile)), ("cluster-tls-ca", value("cluster-tls-ca", command.clusterTlsCa))] where given != nil {
                throw ValidationError("\(name) is a cluster mode setting: it needs --cluster-nats")
            }
        }
        if let servers = value("cluster-nats", command.clusterNats) {
            #if !Cluster
            throw ValidationError("cluster-nats: this meterd was built without cluster mode; build it with `swift build --traits Cluster` (needs Debian's libnats-dev; docs/cluster.md), got \"\(servers)\"")
            #endif
            let urls = servers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !urls.isEmpty else { throw ValidationError("cluster-nats must list NATS server URLs (nats://HOST:PORT,...), got \"\(servers)\"") }
            let node = value("cluster-node", command.clusterNode) ?? "node-\(getpid())"
            guard !node.isEmpty, node.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw ValidationError("cluster-node must be letters, digits, '-' and '_', got \"\(node)\"")
            }
            var cluster = ClusterOptions(servers: urls, nodeName: node)
            if let stream = value("cluster-stream", command.clusterStream) {
                guard !stream.isEmpty, stream.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                    throw ValidationError("cluster-stream must be letters, digits, '-' and '_', got \"\(stream)\"")
                }
                cluster.streamName = stream
            }
            if let partitions = try integer("cluster-partitions", command.clusterPartitions) {
                guard (1...1024).contains(partitions) else { throw ValidationError("cluster-partitions must be 1 to 1024, got \(partitions)") }
                cluster.partitions = partitions
            }
            if let lease = try integer("cluster-lease-ms", command.clusterLeaseMs) {
                guard (200...600_000).contains(lease) else { throw ValidationError("cluster-lease-ms must be 200 to 600000, got \(lease)") }
                cluster.leaseMilliseconds = Int64(lease)
            }
            if let replicas = try integer("cluster-replicas", command.clusterReplicas) {
                guard (1...5).contains(replicas) else { throw ValidationError("cluster-replicas must be 1 to 5, got \(replicas)") }
                cluster.replicas = replicas
            }
            if let records = try integer("cluster-snapshot-records", command.clusterSnapshotRecords) {
                guard records >= 1 else { throw ValidationError("cluster-snapshot-records must be at least 1, got \(records)") }
                cluster.snapshotEveryRecords = UInt64(records)
            }
            if let seconds = try integer("cluster-snapshot-seconds", command.clusterSnapshotSeconds) {
                guard seconds >= 1 else { throw ValidationError("cluster-snapshot-seconds must be at least 1, got \(seconds)") }
                cluster.snapshotEverySeconds = Int64(seconds)
            }
            if let seconds = try integer("cluster-retain-seconds", command.clusterRetainSeconds) {
                // Longer than a publish is retried with its message id (20 s), with a margin.
                guard seconds == 0 || seconds >= 30 else { throw ValidationError("cluster-retain-seconds must be 0 (never trim) or at least 30, got \(seconds)") }
                cluster.retainSeconds = Int64(seconds)
            }
            cluster.partitionsDirectory = (engine.dataDirectory as NSString).appendingPathComponent("cluster-partitions")
            // The shared secret nodes forward with (over TCP between machines; docs/cluster.md).
            if let path = value("cluster-secret-file", command.clusterSecretFile) {
                guard let contents = FileManager.default.contents(atPath: path) else {
                    throw ValidationError("cluster-secret-file \(path) cannot be read")
                }
                do {
                    access.configuration.clusterSecrets = try ClusterCredential.secrets(fileContents: Array(contents))
                } catch {
                    throw ValidationError("cluster-secret-file \(path): \(error)")
                }
            }
            if let path = value("cluster-tls-ca", command.clusterTlsCa) {
                guard FileManager.default.isReadableFile(atPath: path) else { throw ValidationError("cluster-tls-ca \(path) cannot be read") }
                clusterTLS = ForwardingTLS(certificateAuthorityPath: path, certificateChainPath: server.tls?.certificateChainPath, privateKeyPath: server.tls?.privateKeyPath)
            }
            // Where other nodes forward this node's partitions' requests: on one machine the Unix
            // socket (meterd's own user is admin of any tenant there); between machines
            // HOST:PORT of the TCP listener, which needs the cluster secret.
            if let address = value("cluster-address", command.clusterAddress) {
                cluster.address = address
            } else if let socket = server.unixSocketPath {
                cluster.address = socket.hasPrefix("/") ? socket : FileManager.default.currentDirectoryPath + "/" + socket
            } else if let host = server.tcpHost {
                guard server.tcpPort != 0 else { throw ValidationError("cluster-address: give --cluster-address HOST:PORT (the port other machines reach) when --tcp picks a free port") }
                cluster.address = "\(host):\(server.tcpPort)"
            }
            if let problem = PartitionForwarder.addressProblem(cluster.address, hasSecret: !access.configuration.clusterSecrets.isEmpty) {
                throw ValidationError("cluster-address: \(problem)")
            }
            self.cluster = cluster
            // The node's state is replicas of the stream, rebuilt at every start: their own logs
            // need no fsync (the stream is the durable log) and no snapshots.
            engine.dataDirectory = (engine.dataDirectory as NSString).appendingPathComponent("cluster-replica")
            engine.durability = .none
            engine.snapshotEveryRecords = .max
            engine.snapshotEverySeconds = 100 * 365 * 86_400
        }
        if let partitions = cluster?.partitions {
            // Everything of the state machine's configuration that takes part in decisions (not
            // the data directory's dedup key, which only names fingerprints).
            let core = engine.core
            cluster?.settings = "late-window-ms=\(core.lateWindowMilliseconds) future-skew-ms=\(core.futureSkewMilliseconds) "
                + "dedup-window-ms=\(core.dedupWindowMilliseconds) minute-retention-ms=\(core.minuteRetentionMilliseconds) "
                + "fingerprint-bits=\(core.dedupFingerprintBits) limits=\(core.limits) quotas=\(core.quotas) "
                + "partitions=\(partitions)"
        }
        if let text = value("webhook-url", command.webhookUrl), text != "off" {
            guard cluster == nil else {
                throw ValidationError("webhook-url is not available in cluster mode: threshold notifications are raised by each partition's owner "
                                      + "and numbered per partition, and no node delivers them yet; list them with ListNotifications (docs/cluster.md)")
            }
            guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw ValidationError("webhook-url must be an http:// or https:// URL, got \"\(text)\"")
            }
            guard let path = value("webhook-secret-file", command.webhookSecretFile),
                  let secret = FileManager.default.contents(atPath: path), !secret.isEmpty else {
                throw ValidationError("webhook-url needs webhook-secret-file naming a readable, non-empty file with the signing secret")
            }
            var bytes = Array(secret)
            while bytes.last == 10 || bytes.last == 13 { bytes.removeLast() }
            var configuration = WebhookConfiguration(url: url, secret: bytes, outboxPath: engine.dataDirectory + "/webhook-outbox")
            if let attempts = try integer("webhook-max-attempts", command.webhookMaxAttempts) {
                guard attempts >= 1 else { throw ValidationError("webhook-max-attempts must be at least 1, got \(attempts)") }
                configuration.maximumAttempts = attempts
            }
            webhook = configuration
        }
        let problems = engine.core.problems
        guard problems.isEmpty else { throw ValidationError(problems.joined(separator: "; ")) }
    }

    /// Parses "TENANT:events-per-second=N,meters=N,customers-per-meter=N,series-per-meter=N";
    /// limits not named keep the defaults.
    static func tenantQuota(_ text: String, defaults: TenantQuota) throws -> (String, TenantQuota) {
        let problem = ValidationError("tenant-quota must be TENANT:KEY=N,... with keys events-per-second, meters, customers-per-meter, series-per-meter (any of them, N >= 0), got \"\(text)\"")
        let parts = text.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, NameRules.isValidEventName(parts[0]) else { throw problem }
        var quota = defaults
        for assignment in parts[1].split(separator: ",") {
            let pair = assignment.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, let number = Int(pair[1]), number >= 0 else { throw problem }
            switch pair[0] {
            case "events-per-second": quota.eventsPerSecond = number
            case "meters": quota.meters = number
            case "customers-per-meter": quota.cardinality.customersPerMeter = number
            case "series-per-meter": quota.cardinality.seriesPerMeter = number
            default: throw problem
            }
        }
        return (parts[0], quota)
    }

    /// 127.0.0.0/8, ::1 and localhost: reachable from this host only.
    static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return bare == "localhost" || bare == "::1" || bare.hasPrefix("127.")
    }

    static func positive(_ name: String, _ value: Int) throws -> Int {
        guard value > 0 else { throw ValidationError("\(name) must be positive, got \(value)") }
        return value
    }

    static func readConfigFile(_ path: String) throws -> [String: String] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ValidationError("cannot read config file \(path): \(error.localizedDescription)")
        }
        var values: [String: String] = [:]
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
            if line.isEmpty { continue }
            guard let equals = line.firstIndex(of: "=") else { throw ValidationError("\(path):\(number + 1): expected name = value") }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            values[name] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        return values
    }
}
