import Hummingbird
import HummingbirdTLS
import Logging
import MeterOperations
import NIOSSL
import NIOCore
import Prometheus
import ServiceLifecycle

/// meterd's HTTP listener (Hummingbird 2): the JSON API under `/api`, the OpenAPI document at
/// `/api/openapi.json`, the web console under `/console`, and Prometheus `/metrics` when a
/// registry is given. A `Service` in meterd's ServiceGroup; it stops on graceful shutdown.
public struct MeterHTTPService: Service {
    public let host: String
    public let port: Int
    private let environment: MeterHTTPEnvironment
    private let metrics: (registry: PrometheusCollectorRegistry, beforeScrape: @Sendable () async -> Void)?
    private let onListening: @Sendable (_ host: String, _ port: Int) -> Void
    private let logger: Logger
    private let tls: TLSConfiguration?

    /// - Parameters:
    ///   - port: 0 picks a free port; `onListening` is told which.
    ///   - tls: serve HTTPS with this configuration (the TCP listener's certificate, key and
    ///     client CA); nil: plain HTTP.
    ///   - metrics: when given, `GET /metrics` serves this registry (after `beforeScrape`).
    public init(host: String, port: Int, environment: MeterHTTPEnvironment, logger: Logger, tls: TLSConfiguration? = nil,
                metrics: (registry: PrometheusCollectorRegistry, beforeScrape: @Sendable () async -> Void)? = nil,
                onListening: @escaping @Sendable (_ host: String, _ port: Int) -> Void = { _, _ in }) {
        self.host = host
        self.port = port
        var environment = environment
        environment.servesTLS = tls != nil
        self.environment = environment
        self.tls = tls
        self.metrics = metrics
        self.onListening = onListening
        self.logger = logger
    }

    /// Every route of the listener, for the service and for tests.
    public static func router(environment: MeterHTTPEnvironment,
                              metrics: (registry: PrometheusCollectorRegistry, beforeScrape: @Sendable () async -> Void)? = nil) -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        MeterRoutes.register(on: router, environment: environment)
        QueryRoutes.register(on: router, environment: environment)
        EntitlementRoutes.register(on: router, environment: environment)
        EventRoutes.register(on: router, environment: environment)
        AccessRoutes.register(on: router, environment: environment)
        EntitlementChangeRoutes.register(on: router, environment: environment)
        ConsoleRoutes.register(on: router, environment: environment)
        router.get("api/openapi.json") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
        }
        router.get("/") { _, _ -> Response in
            Response(status: .seeOther, headers: [.location: "/console"])
        }
        if let metrics {
            MetricsEndpoint.addScrapeRoute(to: router, registry: metrics.registry, beforeScrape: metrics.beforeScrape)
        }
        return router
    }

    public func run() async throws {
        try await MetricsEndpoint.serve(Self.router(environment: environment, metrics: metrics), host: host, port: port,
                                        server: try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
                                        logger: logger, onListening: onListening)
    }
}

/// The OpenAPI 3.1 description of the JSON API (docs/openapi.json; the text is generated into
/// OpenAPIDocument+Text.swift by scripts/generate-openapi.py, so meterd needs no resource files).
enum OpenAPIDocument {
    static let bytes: [UInt8] = Array(text.utf8)
}
