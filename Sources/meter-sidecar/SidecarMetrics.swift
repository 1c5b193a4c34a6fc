import Metrics
import MeterOperations
import MeterSidecar

/// The sidecar's numbers for Prometheus, copied from `Sidecar.status()` at each scrape: the
/// same numbers Health.Check reports as key=value text (which stays as it is).
final class SidecarMetrics: Sendable {
    private let spoolEvents = Gauge(label: "meter_sidecar_spool_events")
    private let spoolBytes = Gauge(label: "meter_sidecar_spool_bytes")
    private let oldestUnsentSeconds = Gauge(label: "meter_sidecar_oldest_unsent_seconds")
    private let upstreamConnected = Gauge(label: "meter_sidecar_upstream_connected")
    private let spoolFailed = Gauge(label: "meter_sidecar_spool_failed")
    private let batchesSent = CounterMirror(Counter(label: "meter_sidecar_batches_sent_total"))
    private let retries = CounterMirror(Counter(label: "meter_sidecar_retries_total"))
    private let deadLetters = CounterMirror(Counter(label: "meter_sidecar_dead_letters_total"))
    private let eventsForwarded = CounterMirror(Counter(label: "meter_sidecar_events_forwarded_total"))

    func update(from status: SidecarStatus) {
        spoolEvents.record(status.spoolEvents)
        spoolBytes.record(status.spoolBytes)
        oldestUnsentSeconds.record(Double(status.oldestUnsentMilliseconds) / 1000)
        upstreamConnected.record(status.upstreamConnected ? 1 : 0)
        spoolFailed.record(status.spoolFailure == nil ? 0 : 1)
        batchesSent.advance(to: status.batchesSent)
        retries.advance(to: status.retries)
        deadLetters.advance(to: status.deadLetters)
        eventsForwarded.advance(to: status.eventsForwarded)
    }
}
