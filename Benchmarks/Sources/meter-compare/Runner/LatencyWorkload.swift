import Foundation
import Histogram

/// Single-event durable ingest at a fixed offered rate, open loop: request i is due at
/// start + i / rate whether or not earlier requests were answered, and its latency is measured
/// from that due time (so a slow reply delays the requests behind it and that shows, instead of
/// hiding as a lower send rate). `connections` workers take the next due request in turn.
enum LatencyWorkload {
    static func run(_ system: any BenchSystem, events: [BenchEvent], rate: Double, connections: Int) throws -> BenchResults.LatencyRun {
        let connectionsList = try (0..<connections).map { _ in try system.connect() }
        let requests = try events.indices.map { try connectionsList[0].encode(events[$0...$0]) }
        let next = Shared(0)
        let start = monotonicSeconds() + 0.05
        let histograms = try runOnThreads(connections) { worker -> (Histogram<UInt64>, Double) in
            var histogram = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
            let connection = connectionsList[worker]
            var lastDone = start
            while true {
                let index = next.withValue { value -> Int in
                    defer { value += 1 }
                    return value
                }
                guard index < requests.count else { break }
                let due = start + Double(index) / rate
                let wait = due - monotonicSeconds()
                if wait > 0 { usleep(useconds_t(wait * 1e6)) }
                _ = try connection.send(requests[index])
                lastDone = monotonicSeconds()
                _ = histogram.record(UInt64(max(0, (lastDone - due) * 1e6)))
            }
            return (histogram, lastDone)
        }
        for connection in connectionsList { connection.close() }
        var merged = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        for (histogram, _) in histograms { merged.add(histogram) }
        let finished = histograms.map(\.1).max() ?? start
        return BenchResults.LatencyRun(
            system: system.key, offeredPerSecond: rate,
            achievedPerSecond: finished > start ? Double(events.count) / (finished - start) : 0,
            connections: connections, count: Int(merged.totalCount),
            p50Microseconds: Double(merged.valueAtPercentile(50)), p90Microseconds: Double(merged.valueAtPercentile(90)),
            p99Microseconds: Double(merged.valueAtPercentile(99)), p999Microseconds: Double(merged.valueAtPercentile(99.9)),
            maxMicroseconds: Double(merged.max))
    }
}
