import ArgumentParser
import Foundation
import Logging
#if Cluster
import MeterCluster
#endif
import MeterCore
import MeterEngine
import MeterHTTP
import MeterOperations
import MeterServer
import MeterWireServer
import ServiceLifecycle

/// `meterd`: the metering server. With no arguments it keeps its data in ./meterd-data,
/// listens on ./meterd.sock and on 127.0.0.1:7878, and acknowledges only after fsync.
@main
struct Meterd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meterd",
        abstract: "meterd: exact, durable usage metering over a Unix socket and TCP.",
        discussion: """
            Every option can also come from --config FILE: one "name = value" per line, using the
            long option names without dashes (for example "durability = interval:50"); '#' starts
            a comment. Options on the command line win over the file.

            SIGTERM and SIGINT shut down gracefully: stop accepting, let in-flight requests finish,
            write the final snapshot, exit 0.
            """)

    @Option(name: .long, help: "Configuration file of 'name = value' lines.")
    var config: String?

    @Option(name: .long, help: "Directory of the write-ahead log and snapshots (default ./meterd-data).")
    var dataDir: String?

    @Option(name: .long, help: "Unix-domain socket path (default ./meterd.sock).")
    var socket: String?

    @Flag(name: .long, help: "Do not listen on a Unix-domain socket.")
    var noSocket = false

    @Option(name: .long, help: "Permission bits of the socket file, octal (default 600).")
    var socketMode: String?

    @Option(name: .long, help: "TCP address HOST:PORT (default 127.0.0.1:7878; port 0 picks one).")
    var tcp: String?

    @Flag(name: .long, help: "Do not listen on TCP.")
    var noTcp = false

    @Option(name: .long, help: "fsync (default: acknowledge after fdatasync), interval[:MS] (fdatasync at most every MS ms, default 100; acks may run ahead of durability), none (tests only).")
    var durability: String?

    @Option(name: .long, help: "Largest frame payload in bytes, at least 65536 (default 4194304).")
    var maxFrameBytes: Int?

    @Option(name: .long, help: "Most events in one IngestBatch (default 10000).")
    var maxBatchEvents: Int?

    @Option(name: .long, help: "Most requests in flight per connection (default 64).")
    var maxInFlight: Int?

    @Option(name: .long, help: "Most open connections (default 1024).")
    var maxConnections: Int?

    @Option(name: .long, help: "Seconds without traffic before a connection is closed (default 300).")
    var idleTimeoutSeconds: Int?

    @Option(name: .long, help: "Seconds a new connection has to send its preface and handshake (default 10).")
    var handshakeTimeoutSeconds: Int?

    @Option(name: .long, help: "Most events queued for the writer before RESOURCE_EXHAUSTED (default 1000000).")
    var queueEvents: Int?

    @Option(name: .long, help: "Write a snapshot every N log records (default 50000).")
    var snapshotEveryRecords: Int?

    @Option(name: .long, help: "...but only once the log grew by this percentage of the previous snapshot's size, so large states are not re-written every N records (default 100; 0 turns the rule off).")
    var snapshotLogGrowthPercent: Int?

    @Option(name: .long, help: "Write snapshot files at most this many MiB per second, so that the log's fsyncs do not queue behind them (default 64; 0: no limit).")
    var snapshotWriteMibPerSecond: Int?

    @Option(name: .long, help: "Delete log segments older than this many hours once a snapshot covers them (default 168).")
    var retentionHours: Int?

    @Option(name: .long, help: "Oldest accepted event timestamp, in seconds before now (default 86400).")
    var lateWindowSeconds: Int?

    @Option(name: .long, help: "How far in the future an event timestamp may be, in seconds (default 300).")
    var futureSkewSeconds: Int?

    @Option(name: .long, help: "How long event ids are remembered for exactly-once, in seconds (default 172800; at least late window + future skew).")
    var dedupWindowSeconds: Int?

    @Option(name: .long, help: "Most event ids remembered for exactly-once (default 50000000, about 32-40 bytes each; at most 1073741824). When reached, ingest requests with new events get RESOURCE_EXHAUSTED until ids older than the dedup window expire; duplicates are still answered.")
    var dedupMaxIds: Int?

    @Flag(name: .long, help: "Open a log with corruption in the middle by cutting it there (loses what follows; a copy is kept).")
    var repair = false

    @Option(name: .long, help: "Least severe log level written: trace, debug, info, notice, warning, error, critical (default info). Logs go to standard error.")
    var logLevel: String?

    @Option(name: .long, help: "Log format: text (for people, default) or json (one JSON object per line, for log shippers).")
    var logFormat: String?

    @Option(name: .long, help: ArgumentHelp("Admit local user UID on the Unix socket without an API key, to one tenant with one role (admin, ingest, read); repeatable. meterd's own user is admin of every tenant there anyway.", valueName: "UID=TENANT:ROLE"))
    var peerAccess: [String] = []

    @Flag(name: .long, help: "Do not admit meterd's own user on the Unix socket without a key: every connection needs an API key.")
    var noOwnerAccess = false

    @Option(name: .long, help: ArgumentHelp("TLS on TCP and --http: certificate chain, PEM (with --tls-key).", valueName: "path"))
    var tlsCertificate: String?

    @Option(name: .long, help: ArgumentHelp("TLS on TCP: private key of --tls-certificate, PEM.", valueName: "path"))
    var tlsKey: String?

    @Option(name: .long, help: ArgumentHelp("Mutual TLS: CA certificates (PEM) a client certificate must chain to; clients without one are refused.", valueName: "path"))
    var tlsClientCa: String?

    @Flag(name: .long, help: "Allow plaintext TCP on an address that is not loopback (refused by default: keys would cross the network readable).")
    var allowPlaintextTcp = false

    @Option(name: .long, help: "Default per-tenant quota: events per second (token bucket of one second; 0, the default: unlimited).")
    var quotaEventsPerSecond: Int?

    @Option(name: .long, help: "Default per-tenant quota: active meters (0, the default: unlimited).")
    var quotaMeters: Int?

    @Option(name: .long, help: "Default per-tenant quota: distinct customers per meter; an event of a new customer beyond it is rejected QUOTA_CUSTOMERS_PER_METER (0, the default: unlimited).")
    var quotaCustomersPerMeter: Int?

    @Option(name: .long, help: "Default per-tenant quota: series (customer and group-by values) per meter; an event of a new series beyond it is rejected QUOTA_SERIES_PER_METER (0, the default: unlimited).")
    var quotaSeriesPerMeter: Int?

    @Option(name: .long, help: ArgumentHelp("A tenant's own quotas, overriding the defaults; repeatable. Keys: events-per-second, meters, customers-per-meter, series-per-meter.", valueName: "TENANT:events-per-second=N,meters=N"))
    var tenantQuota: [String] = []

    @Option(name: .long, help: "Milliseconds a refused handshake waits before its GOAWAY, to slow down guessing (default 500).")
    var refusedHandshakeDelayMs: Int?

    @Option(name: .long, help: "Serve Prometheus metrics at http://HOST:PORT/metrics (off by default; for example 127.0.0.1:9464; port 0 picks one, printed at start).")
    var metrics: String?

    @Option(name: .long, help: "Serve the HTTP JSON API, the web console and (with --metrics) /metrics at http://HOST:PORT (off by default; for example 127.0.0.1:7880; port 0 picks one, printed at start). Every request needs an API key (Authorization: Bearer, or the console's sign-in); with --tls-certificate and --tls-key it serves HTTPS (and asks for client certificates with --tls-client-ca); without TLS, loopback addresses only.")
    var http: String?

    @Option(name: .long, help: ArgumentHelp("Cluster mode (docs/cluster.md): the NATS servers whose JetStream stream is the replicated log, comma-separated; every write goes through it and this node applies all of it. Off by default (a single node on its own log).", valueName: "nats://HOST:PORT,..."))
    var clusterNats: String?

    @Option(name: .long, help: "Cluster mode: this node's name, unique in the cluster (default node-PID).")
    var clusterNode: String?

    @Option(name: .long, help: "Cluster mode: the JetStream stream of the log (default METERD; created when missing).")
    var clusterStream: String?

    @Option(name: .long, help: "Cluster mode: event partitions (subjects) of a new stream (default 8).")
    var clusterPartitions: Int?

    @Option(name: .long, help: "Cluster mode: the address other nodes forward this node's partitions' requests to: a Unix socket path (nodes on one machine) or HOST:PORT of its --tcp listener as the other machines reach it (needs --cluster-secret-file). Default: its --socket path, else its --tcp address.")
    var clusterAddress: String?

    @Option(name: .long, help: ArgumentHelp("Cluster mode: file holding the cluster secret (32-200 printable ASCII bytes, one trailing newline ignored), the same on every node. Nodes present it when they forward requests to each other, so forwarding works over TCP between machines (--cluster-address HOST:PORT); a node given it accepts forwarded requests carrying it. Without it, forwarding goes over Unix sockets of one machine only.", valueName: "path"))
    var clusterSecretFile: String?

    @Option(name: .long, help: ArgumentHelp("Cluster mode: forward over TCP with TLS, checking the owners' certificates against these CA certificates (PEM); this node's --tls-certificate and --tls-key are presented as its client certificate when set.", valueName: "path"))
    var clusterTlsCa: String?

    @Option(name: .long, help: "Cluster mode: event partition leases not renewed for this long may be taken by another node (default 3000 ms).")
    var clusterLeaseMs: Int?

    @Option(name: .long, help: "Cluster mode: replicas of a new stream (default 3, one per NATS server).")
    var clusterReplicas: Int?

    @Option(name: .long, help: "Cluster mode: a partition's owner publishes its snapshot to JetStream after this many records applied since the last one (default 5000).")
    var clusterSnapshotRecords: Int?

    @Option(name: .long, help: "Cluster mode: ... or after this many seconds with records applied (default 60).")
    var clusterSnapshotSeconds: Int?

    @Option(name: .long, help: "Cluster mode: trim the log stream behind the shared snapshots, keeping at least this many seconds (at least 30; default 0: never trim). Once trimming is announced, new meters are refused (their backfill would need the trimmed events).")
    var clusterRetainSeconds: Int?

    @Option(name: .long, help: ArgumentHelp("POST every threshold notification to this http:// or https:// URL (off by default), signed with --webhook-secret-file; progress is kept in DATA_DIR/webhook-outbox.", valueName: "url"))
    var webhookUrl: String?

    @Option(name: .long, help: ArgumentHelp("File holding the webhook signing secret (its bytes, without a trailing newline); required with --webhook-url.", valueName: "path"))
    var webhookSecretFile: String?

    @Option(name: .long, help: "Attempts per notification before it is dead-lettered (default 8; backoff 0.5 s doubling to 60 s, with jitter).")
    var webhookMaxAttempts: Int?

    mutating func run() async throws {
        let settings = try Settings(command: self)
        ProcessLogHandler.bootstrap(level: settings.logLevel, format: settings.logFormat)
        let logger = Logger(label: "meterd")
        let registry = settings.metricsAddress.map { _ in PrometheusSetup.bootstrap() }
        let engineMetrics = EngineMetrics()
        var engineOptions = settings.engine
        // Cluster mode: the engine's own directory is a replica rebuilt from the stream at
        // every start, its clock the log's, its writes the log's (docs/cluster.md).
        // Cluster mode: keys created or revoked on any node reach this node's key store.
        let keyRelay = ReplicatedKeyRelay()
        #if Cluster
        let clusterLog = settings.cluster.map { ClusterLog(options: $0, logger: logger) }
        if let clusterLog {
            do {
                try ClusterReplicaDirectory.reset(engineOptions.dataDirectory)
            } catch {
                logger.critical("\(error)")
                throw ExitCode(2)
            }
            // The meta engine starts from the newest meta snapshot shared through JetStream (if
            // any), with the cluster's dedup key that snapshots are made with.
            do {
                engineOptions.core.dedupKey = try clusterLog.prepareMeta(directory: engineOptions.dataDirectory)
            } catch {
                logger.critical("\(StartupFailure.cannotListen(reason: "cannot join the cluster: \(error)"))")
                throw ExitCode(2)
            }
            engineOptions.replicatedLog = clusterLog
            engineOptions.clock = { clusterLog.clock.read() }
            engineOptions.onReplicatedKey = { keyRelay.apply($0) }
        }
        #endif
        engineOptions.onEvent = { event in
            engineMetrics.observe(event)
            EngineEventLog.log(event, to: logger)
        }
        #if Cluster
        // Partitioned cluster mode: the engine above applies meters and keys; each event
        // partition this node holds a lease for gets an engine of its own (docs/cluster.md).
        let clusterNode = clusterLog.map { log in
            try? FileManager.default.removeItem(atPath: log.options.partitionsDirectory)
            return ClusterNode(log: log, engineOptions: engineOptions, logger: logger)
        }
        let partitions: (any PartitionedEngines)? = clusterNode
        #else
        let partitions: (any PartitionedEngines)? = nil
        #endif
        let engineHandle = EngineHandle()
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        // One listener when --metrics names the --http address: /metrics is served there.
        let metricsOnHTTPOnly = settings.httpAddress != nil && settings.metricsAddress.map { $0 == settings.httpAddress! } == true
        #if Cluster
        // Cluster mode: each partition's serving state and applied stream sequence, and the lag.
        let clusterMetrics = registry == nil ? nil : clusterNode.map { node in (node, ClusterMetrics(partitions: node.partitionStatuses().count)) }
        #endif
        let beforeScrape: @Sendable () async -> Void = {
            if let engine = engineHandle.current { engineMetrics.update(from: engine.currentStatus()) }
            #if Cluster
            if let (node, metrics) = clusterMetrics {
                metrics.update(partitions: node.partitionStatuses().map { ($0.serving, $0.appliedStreamSequence) },
                               streamLastSequence: node.streamLastSequence())
            }
            #endif
        }
        if let registry, let address = settings.metricsAddress, !metricsOnHTTPOnly {
            services.append(.init(service: MetricsEndpoint.announced(
                by: "meterd", host: address.host, port: address.port, registry: registry, logger: logger, beforeScrape: beforeScrape)))
        }
        // Started in this order, stopped in reverse on SIGTERM/SIGINT: the server stops
        // accepting and drains, then the engine finishes its queue, fsyncs and writes the final
        // snapshot, then the metrics endpoint closes.
        services.append(.init(service: EngineService(options: engineOptions, handle: engineHandle, logger: logger)))
        // The listeners wait for this: in cluster mode, until the node caught up with the log.
        #if Cluster
        let servingHandle = clusterLog == nil ? engineHandle : EngineHandle()
        if let clusterLog {
            services.append(.init(service: ClusterService(log: clusterLog, node: clusterNode!, handle: engineHandle, serving: servingHandle, logger: logger)))
        }
        #else
        let servingHandle = engineHandle
        #endif
        let keyStoreHandle = KeyStoreHandle()
        // The console's event debugger: the last events over both protocols, in memory only.
        let recentEvents = RecentEventLog(capacity: 500)
        let clock = settings.engine.clock
        let observeIngest: IngestObserver = { tenantId, events, results in
            recentEvents.record(tenantId: tenantId, transport: "binary", receivedAtMilliseconds: clock(), events: events, results: results)
        }
        let webhookSource = WebhookStatusSource()
        services.append(.init(service: ServerService(handle: servingHandle, configuration: settings.server, access: settings.access,
                                                     durability: settings.engine.durability, dataDirectory: settings.engine.dataDirectory,
                                                     keys: keyStoreHandle, logger: logger,
                                                     ingestObserver: settings.httpAddress == nil ? nil : observeIngest,
                                                     createsBootstrapKey: settings.cluster == nil, webhooks: webhookSource, partitions: partitions,
                                                     partitionCount: settings.cluster?.partitions ?? 0, forwardingName: settings.cluster?.nodeName ?? "meterd",
                                                     forwardingTLS: settings.clusterTLS, keyRelay: settings.cluster == nil ? nil : keyRelay)))
        if let address = settings.httpAddress {
            services.append(.init(service: HTTPService(handle: servingHandle, keys: keyStoreHandle, host: address.host, port: address.port,
                                                       maximumBatchEvents: settings.server.limits.maximumBatchEvents,
                                                       metrics: registry.map { ($0, beforeScrape) }, recentEvents: recentEvents,
                                                       refusalDelay: settings.access.configuration.refusalDelay, tls: settings.server.tls,
                                                       webhooks: webhookSource, logger: logger)))
        }
        if let webhook = settings.webhook {
            services.append(.init(service: WebhookService(handle: engineHandle, configuration: webhook, source: webhookSource, logger: logger)))
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let failure as StartupFailure {
            // Not a usage error: no usage banner, just the reason and a failing exit code.
            logger.critical("\(failure)")
            throw ExitCode(2)
        } catch {
            logger.critical("stopped by an error: \(error)")
            throw ExitCode(2)
        }
        print("meterd: stopped")
        logger.info("stopped")
    }
}
