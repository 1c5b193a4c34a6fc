import Logging
import MeterEngine
import MeterWireServer
import NIOCore
import NIOPosix
import ServiceLifecycle

/// meterd's front door: the shared wire-server core (`WireServer`: Unix socket and TCP,
/// framing, handshake, limits) with meterd's services registered, each handing its requests
/// to the engine.
///
/// Event loops only do socket I/O and framing; handlers await the engine, whose writer thread
/// does the fsyncs. Start with `start()`, stop with `shutdown()`; or run it as a
/// swift-service-lifecycle `Service` in a ServiceGroup: `run()` serves until graceful shutdown
/// (SIGTERM, SIGINT), then stops accepting and drains. The engine is not shut down here: in
/// meterd it is the service before this one in the ServiceGroup, so it stops after the server
/// drained.
public final class MeterServer: Sendable, Service {
    public typealias Endpoint = WireServer.Endpoint
    public var configuration: ServerConfiguration { server.configuration }
    private let server: WireServer
    private let engine: MeterEngine
    /// Decides who each connection is and what it may call (docs/security.md).
    public let authenticator: Authenticator
    /// Per-tenant quotas (events per second, active meters), shared with the HTTP listener.
    public let quotas: TenantQuotas
    /// Partitioned cluster mode: routing to partitions and the connections to their owners
    /// (shared with the HTTP listener).
    public let cluster: ClusterAccess?

    /// - Parameters:
    ///   - metrics: where request, ingest and connection metrics go (a no-op backend unless
    ///     swift-metrics was bootstrapped or a factory was given).
    ///   - logger: refused connections and shutdown are logged here.
    ///   - access: who may connect without a key, and tenant quotas.
    ///   - ingestObserver: told every ingest request's events and results (meterd's event debugger).
    ///   - webhooks: the webhook dispatcher GetWebhookStatus reports on, when meterd runs one.
    ///   - cluster: partitioned cluster mode: ingest and usage queries go to the engine of the
    ///     customer's partition here, or are forwarded to its owner (docs/cluster.md); `engine`
    ///     then holds meters and keys only.
    public init(engine: MeterEngine, configuration: ServerConfiguration, access: AccessSettings = AccessSettings(),
                threads: Int = System.coreCount, metrics: ServerMetrics = ServerMetrics(), logger: Logger = Logger(label: "meterd"),
                ingestObserver: IngestObserver? = nil, webhooks: WebhookStatusSource? = nil, cluster: ClusterAccess? = nil) {
        self.engine = engine
        let authenticator = Authenticator(keys: KeyStore(), configuration: access.configuration, metrics: metrics.access, logger: logger)
        self.authenticator = authenticator
        var configuration = configuration
        configuration.tenantAdmission = .wellFormedName
        configuration.authenticator = authenticator
        var router = Router()
        router.authorize = { identity, method in
            guard let principal = identity.details as? Principal else { return nil }
            return authenticator.refusal(for: principal, method: method)
        }
        let quotas = TenantQuotas(defaultQuota: access.defaultQuota, overrides: access.tenantQuotas, factory: metrics.factory)
        self.quotas = quotas
        self.cluster = cluster
        AccessService(engine: engine, keys: authenticator.keys).register(with: &router)
        AdminService(engine: engine, quotas: quotas).register(with: &router)
        IngestService(engine: engine, maximumBatchEvents: configuration.limits.maximumBatchEvents, metrics: metrics, quotas: quotas, observer: ingestObserver, cluster: cluster).register(with: &router)
        QueryService(engine: engine, cluster: cluster).register(with: &router)
        EntitlementService(engine: engine, webhooks: webhooks, cluster: cluster).register(with: &router)
        NotificationWatch(engine: engine, clustered: cluster != nil).register(with: &router)
        HealthService(engine: engine, version: configuration.serverVersion, startedAt: .now).register(with: &router)
        server = WireServer(configuration: configuration, router: router, threads: threads, observer: metrics, logger: logger)
    }

    /// Binds the configured sockets and starts serving; returns where it listens.
    public func start() async throws -> [Endpoint] {
        try await loadKeys()
        return try await server.start()
    }

    /// The keys as recovered (snapshot + log), before the first connection is accepted.
    private func loadKeys() async throws {
        for key in try await engine.read({ machine in machine.apiKeys }) { authenticator.keys.update(key) }
    }

    /// Serves until graceful shutdown, then drains (`WireServer.run(onListening:)`).
    public func run(onListening: @Sendable ([Endpoint]) -> Void) async throws {
        if server.endpoints == nil { try await loadKeys() }
        try await server.run(onListening: onListening)
    }

    public func run() async throws { try await run(onListening: { _ in }) }

    /// Stops accepting, sends GOAWAY, lets in-flight requests finish (up to `timeout`), closes.
    public func shutdown(timeout: Duration = .seconds(10)) async {
        await server.shutdown(timeout: timeout)
        await cluster?.close()
    }
}
