import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// The HTTP endpoint Prometheus scrapes: `GET /metrics` in the Prometheus text format, served
/// by Hummingbird 2 (the HTTP stack the later JSON API and console will share).
///
/// A `Service`: it runs in the process's ServiceGroup and stops on graceful shutdown. Before
/// each scrape it calls `beforeScrape`, which copies numbers kept elsewhere (the engine's
/// status, the sidecar's spool) into the registry, so they are as fresh as the scrape and
/// nothing polls in between. It is meant for 127.0.0.1: it has no authentication.
public struct MetricsEndpoint: Service {
    public let host: String
    public let port: Int
    private let registry: PrometheusCollectorRegistry
    private let beforeScrape: @Sendable () async -> Void
    private let onListening: @Sendable (_ host: String, _ port: Int) -> Void
    private let logger: Logger

    /// - Parameters:
    ///   - port: 0 picks a free port; `onListening` is told which.
    ///   - onListening: called once the socket is bound (meterd prints the address).
    public init(host: String, port: Int, registry: PrometheusCollectorRegistry, logger: Logger,
                beforeScrape: @escaping @Sendable () async -> Void = {},
                onListening: @escaping @Sendable (_ host: String, _ port: Int) -> Void = { _, _ in }) {
        self.host = host
        self.port = port
        self.registry = registry
        self.beforeScrape = beforeScrape
        self.onListening = onListening
        self.logger = logger
    }

    /// An endpoint that, once bound, says where it listens: `PROGRAM: metrics on
    /// http://HOST:PORT/metrics` on standard output (flushed: scripts wait for the line) and in
    /// the log.
    public static func announced(by program: String, host: String, port: Int, registry: PrometheusCollectorRegistry, logger: Logger,
                                 beforeScrape: @escaping @Sendable () async -> Void) -> MetricsEndpoint {
        MetricsEndpoint(host: host, port: port, registry: registry, logger: logger, beforeScrape: beforeScrape) { host, port in
            print("\(program): metrics on http://\(host):\(port)/metrics")
            fflush(nil)
            logger.info("metrics endpoint listening", metadata: ["address": "http://\(host):\(port)/metrics"])
        }
    }

    /// Parses `HOST:PORT` (the `--metrics` option); nil when it is not one.
    public static func parseAddress(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        let host = String(text[..<colon])
        return host.isEmpty ? nil : (host, port)
    }

    public func run() async throws {
        let router = Hummingbird.Router()
        Self.addScrapeRoute(to: router, registry: registry, beforeScrape: beforeScrape)
        try await Self.serve(router, host: host, port: port, logger: logger, onListening: onListening)
    }

    /// Adds `GET /metrics` to `router`: `beforeScrape`, then the registry in the Prometheus
    /// text format. (meterd's HTTP listener serves the same route next to its API.)
    public static func addScrapeRoute(to router: Hummingbird.Router<BasicRequestContext>, registry: PrometheusCollectorRegistry,
                                      beforeScrape: @escaping @Sendable () async -> Void) {
        router.get("metrics") { _, _ -> Response in
            await beforeScrape()
            let bytes = registry.emitToBuffer()
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }

    /// Serves `router` on `host:port` until graceful shutdown; `onListening` is told the bound
    /// port (the one picked for port 0).
    public static func serve(_ router: Hummingbird.Router<BasicRequestContext>, host: String, port: Int,
                             server: HTTPServerBuilder = .http1(), logger: Logger,
                             onListening: @escaping @Sendable (_ host: String, _ port: Int) -> Void) async throws {
        let application = Application(
            router: router,
            server: server,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in onListening(host, channel.localAddress?.port ?? 0) },
            logger: logger)
        try await application.run()
    }
}
