import Metrics
import Prometheus

/// The swift-prometheus backend for swift-metrics, with histogram buckets fitted to what
/// meterd measures: request latencies from 50 µs (a query) to 10 s, snapshot durations up to
/// 10 minutes, snapshot sizes from 4 KiB to 64 GiB.
public enum PrometheusSetup {
    /// Makes the registry `/metrics` emits and bootstraps swift-metrics with it. Once per process.
    public static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(factory(registry: registry))
        return registry
    }

    /// A factory over `registry` with meterd's buckets.
    public static func factory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["meterd_request_duration_seconds"] = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
            .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10),
        ]
        factory.durationHistogramBuckets["meterd_snapshot_duration_seconds"] = [
            .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5),
            .seconds(10), .seconds(30), .seconds(60), .seconds(120), .seconds(300), .seconds(600),
        ]
        factory.valueHistogramBuckets["meterd_snapshot_bytes"] = (0...12).map { Double(4096 << (2 * $0)) }
        return factory
    }
}
