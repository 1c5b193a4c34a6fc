import ArgumentParser
import Foundation
import Logging
import MeterClient
import MeterOperations
import MeterSidecar
import Synchronization
import ServiceLifecycle

/// `meter-sidecar`: runs beside a service, takes its events on a local Unix socket (the meterd
/// protocol), acknowledges them once fsynced in a local spool, and forwards them to meterd.
@main
struct MeterSidecarCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meter-sidecar",
        abstract: "Local spool and batching forwarder in front of meterd.",
        discussion: """
            Clients connect to --listen and speak the meterd protocol. Ingest and IngestBatch are \
            acknowledged (every event ACCEPTED) as soon as the events are fsynced in the spool; \
            events without an event_id get a unique id (sc-<random>-<n>) that is spooled with them, \
            so every resend carries the same id and meterd counts it once. Health.Check answers \
            SERVING with a message of key=value pairs (spool_events, spool_bytes, oldest_unsent_ms, \
            batches_sent, retries, dead_letters, events_forwarded, forwarded_through, last_spooled, \
            upstream); Health.ServerInfo reports last_applied_sequence = newest spool position, \
            first_retained_sequence = forwarded position + 1, group_commits = batches sent, syncs = \
            spool fsyncs. Every other method is answered UNIMPLEMENTED: send admin and query calls \
            to meterd. Events meterd rejects go to the dead-letter file with their reason. When \
            the spool reaches --max-spool-bytes, clients get RESOURCE_EXHAUSTED until meterd drains \
            it. SIGTERM/SIGINT: stop accepting, send what is spooled within --shutdown-timeout-seconds, \
            keep the rest for the next start. --metrics serves the same numbers for Prometheus \
            (docs/operations.md).
            """)

    @Option(name: .long, help: "Unix-domain socket to listen on.")
    var listen = "./meter-sidecar.sock"

    @Option(name: .long, help: "meterd's address: unix:PATH or HOST:PORT.")
    var upstream = "unix:./meterd.sock"

    @Option(name: .long, help: "Spool directory.")
    var spoolDir = "./meter-sidecar-spool"

    @Option(name: .long, help: "Send a batch once it holds this many events.")
    var batchEvents = 1000

    @Option(name: .long, help: "Or send it once its oldest event waited this many milliseconds.")
    var batchMilliseconds = 50

    @Option(name: .long, help: "Most batches sent to meterd and not yet answered.")
    var maxInFlightBatches = 4

    @Option(name: .long, help: "Most bytes of spool files; beyond, clients get RESOURCE_EXHAUSTED.")
    var maxSpoolBytes = 1 << 30

    @Option(name: .long, help: "NDJSON file of events meterd rejected, with the reason (default <spool-dir>/dead-letter.ndjson).")
    var deadLetter: String?

    @Option(name: .long, help: "Tenant the events are forwarded for; clients must name it or none in their handshake. With an API key, the key's tenant.")
    var tenant = "default"

    @Option(name: [.customLong("api-key"), .customLong("credential")], help: "API key (an ingest key is enough) for meterd's handshake; default $METERD_API_KEY. Needed for meterd over TCP.")
    var credential: String?

    @Option(name: .long, help: ArgumentHelp("TLS to meterd over TCP: CA certificates (PEM) its certificate must chain to.", valueName: "path"))
    var upstreamTlsCa: String?

    @Option(name: .long, help: ArgumentHelp("Mutual TLS to meterd: client certificate chain (PEM, with --upstream-tls-key).", valueName: "path"))
    var upstreamTlsCertificate: String?

    @Option(name: .long, help: ArgumentHelp("Mutual TLS to meterd: the client certificate's private key (PEM).", valueName: "path"))
    var upstreamTlsKey: String?

    @Option(name: .long, help: "Longest backoff between retries while meterd is down or busy, in milliseconds.")
    var maxBackoffMilliseconds = 2000

    @Option(name: .long, help: "Seconds SIGTERM may spend forwarding the spool before exiting.")
    var shutdownTimeoutSeconds = 10

    @Option(name: .long, help: "Most open client connections; more are answered with GOAWAY and closed.")
    var maxConnections = 256

    @Option(name: .long, help: "Seconds a client has to send its preface and handshake.")
    var handshakeTimeoutSeconds = 10

    @Option(name: .long, help: "Seconds without traffic after which a client connection is closed (GOAWAY \"idle timeout\").")
    var idleTimeoutSeconds = 300

    @Option(name: .long, help: "Least severe log level written: trace, debug, info, notice, warning, error, critical. Logs go to standard error.")
    var logLevel = "info"

    @Option(name: .long, help: "Log format: text (for people) or json (one JSON object per line, for log shippers).")
    var logFormat = "text"

    @Option(name: .long, help: "Serve Prometheus metrics at http://HOST:PORT/metrics (off by default; for example 127.0.0.1:9465; port 0 picks one, printed at start).")
    var metrics: String?

    func validate() throws {
        guard MeterAddress(parsing: upstream) != nil else { throw ValidationError("--upstream must be unix:PATH or HOST:PORT, got \"\(upstream)\"") }
        guard batchEvents > 0, batchEvents <= 10_000 else { throw ValidationError("--batch-events must be 1...10000") }
        guard batchMilliseconds >= 0 else { throw ValidationError("--batch-milliseconds must not be negative") }
        guard maxInFlightBatches > 0 else { throw ValidationError("--max-in-flight-batches must be positive") }
        guard maxSpoolBytes >= 16_384 else { throw ValidationError("--max-spool-bytes must be at least 16384") }
        guard maxBackoffMilliseconds > 0 else { throw ValidationError("--max-backoff-milliseconds must be positive") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        guard handshakeTimeoutSeconds > 0 else { throw ValidationError("--handshake-timeout-seconds must be positive") }
        guard idleTimeoutSeconds > 0 else { throw ValidationError("--idle-timeout-seconds must be positive") }
        guard shutdownTimeoutSeconds >= 0 else { throw ValidationError("--shutdown-timeout-seconds must not be negative") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))") }
        guard LogFormat(rawValue: logFormat) != nil else { throw ValidationError("--log-format must be text or json") }
        if let metrics { guard MetricsEndpoint.parseAddress(metrics) != nil else { throw ValidationError("--metrics must be HOST:PORT, got \"\(metrics)\"") } }
    }

    func run() async throws {
        var configuration = SidecarConfiguration(listenPath: listen, upstream: MeterAddress(parsing: upstream)!, spoolDirectory: spoolDir)
        configuration.maximumSpoolBytes = maxSpoolBytes
        configuration.deadLetterPath = deadLetter
        configuration.tenantId = tenant
        configuration.credential = credential ?? ProcessInfo.processInfo.environment["METERD_API_KEY"] ?? ""
        if upstreamTlsCa != nil || upstreamTlsCertificate != nil {
            configuration.upstreamTLS = MeterClientTLS(certificateAuthorityPath: upstreamTlsCa, certificateChainPath: upstreamTlsCertificate,
                                                       privateKeyPath: upstreamTlsKey)
        }
        configuration.forwarder.batchEvents = batchEvents
        configuration.forwarder.batchWindow = .milliseconds(batchMilliseconds)
        configuration.forwarder.maximumInFlightBatches = maxInFlightBatches
        configuration.forwarder.maximumBackoff = .milliseconds(maxBackoffMilliseconds)
        configuration.shutdownTimeout = .seconds(shutdownTimeoutSeconds)
        configuration.maximumConnections = maxConnections
        configuration.handshakeTimeout = .seconds(handshakeTimeoutSeconds)
        configuration.idleTimeout = .seconds(idleTimeoutSeconds)

        ProcessLogHandler.bootstrap(level: Logger.Level(rawValue: logLevel)!, format: LogFormat(rawValue: logFormat)!)
        let logger = Logger(label: "meter-sidecar")
        let running = RunningSidecar()
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let metrics, let address = MetricsEndpoint.parseAddress(metrics) {
            let registry = PrometheusSetup.bootstrap()
            let sidecarMetrics = SidecarMetrics()
            services.append(.init(service: MetricsEndpoint.announced(
                by: "meter-sidecar", host: address.host, port: address.port, registry: registry, logger: logger,
                beforeScrape: { if let sidecar = running.current { sidecarMetrics.update(from: await sidecar.status()) } })))
        }
        // The group (and its SIGTERM/SIGINT handling) runs before the spool is opened, so a
        // signal during start-up is a graceful shutdown, never the default kill.
        services.append(.init(service: SidecarService(configuration: configuration, running: running, logger: logger)))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let failure as SidecarStartupFailure {
            throw ValidationError(failure.description)
        }
    }
}

/// Why the sidecar could not start (reported as before: a validation error).
struct SidecarStartupFailure: Error, CustomStringConvertible {
    let description: String
}

/// The sidecar once it runs, for the metrics scrape.
final class RunningSidecar: Sendable {
    private let box = Mutex<Sidecar?>(nil)
    var current: Sidecar? { box.withLock { $0 } }
    func set(_ sidecar: Sidecar) { box.withLock { $0 = sidecar } }
}

/// The sidecar as a swift-service-lifecycle `Service`: opens the spool, listens, says so on
/// standard output (the line scripts wait for), and on graceful shutdown stops accepting, sends
/// what is spooled within the shutdown timeout and keeps the rest for the next start.
struct SidecarService: Service {
    let configuration: SidecarConfiguration
    let running: RunningSidecar
    let logger: Logger

    func run() async throws {
        let sidecar: Sidecar
        do {
            sidecar = try Sidecar(configuration: configuration, logger: logger)
        } catch {
            throw SidecarStartupFailure(description: "cannot open the spool \(configuration.spoolDirectory): \(error)")
        }
        do {
            try await sidecar.start()
        } catch {
            _ = await sidecar.shutdown()
            throw SidecarStartupFailure(description: "cannot listen on \(configuration.listenPath): \(error)")
        }
        running.set(sidecar)
        print("meter-sidecar: listening on unix:\(configuration.listenPath), forwarding to \(configuration.upstream) for tenant \(configuration.tenantId) (spool \(configuration.spoolDirectory), \(sidecar.recoveredEvents) unsent events recovered)")
        fflush(nil)
        logger.info("started", metadata: [
            "listening": "unix:\(configuration.listenPath)",
            "upstream": "\(configuration.upstream)",
            "tenant": "\(configuration.tenantId)",
            "spool_directory": "\(configuration.spoolDirectory)",
            "recovered_events": "\(sidecar.recoveredEvents)",
        ])
        // Returns on graceful shutdown; throws when cancelled (another service failed): both stop the sidecar.
        try? await gracefulShutdown()
        print("meter-sidecar: shutting down")
        fflush(nil)
        let summary = await sidecar.shutdown()
        print("meter-sidecar: stopped (\(summary.drained ? "spool drained" : "\(summary.unsentEvents) events kept in the spool"))")
        fflush(nil)
        logger.info("stopped", metadata: ["drained": "\(summary.drained)", "unsent_events": "\(summary.unsentEvents)"])
    }
}
