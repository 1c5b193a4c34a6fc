/// One point of the ingest matrix: batch size, concurrent connections, and how long to send.
struct IngestPoint: Sendable, CustomStringConvertible {
    var batchSize: Int
    var connections: Int
    /// Events prepared for the run (the run ends early when they are all acknowledged).
    var maxEvents: Int
    /// The run stops sending new batches after this many seconds.
    var maxSeconds: Double

    var description: String { "batch \(batchSize), \(connections) connection\(connections == 1 ? "" : "s")" }
}

/// What one system did at one point.
struct IngestOutcome: Sendable {
    var acknowledgedEvents: Int
    var seconds: Double
    /// Indices (into the run's events) of every acknowledged event.
    var acknowledgedIndices: [Range<Int>]
    /// New events the system reported; must equal `acknowledgedEvents` (fresh ids).
    var newEvents: Int
    /// New events reported when the first batch was sent again; must be 0.
    var newEventsOnResend: Int
    var eventsPerSecond: Double { seconds > 0 ? Double(acknowledgedEvents) / seconds : 0 }
}

/// Durable batched ingest, closed loop: each connection sends its next batch when the previous
/// one is acknowledged. Batch j goes to connection j % connections. Encoding happens before the
/// clock starts, for every system alike, so the figures measure the systems, not the harness.
enum IngestWorkload {
    static func run(_ system: any BenchSystem, events: [BenchEvent], point: IngestPoint) throws -> IngestOutcome {
        let batchRanges = stride(from: 0, to: events.count, by: point.batchSize).map { $0..<min($0 + point.batchSize, events.count) }
        let workers = point.connections
        // Phase 1: connect and encode (untimed).
        let prepared = try runOnThreads(workers) { worker -> PreparedWorker in
            let connection = try system.connect()
            let ranges = stride(from: worker, to: batchRanges.count, by: workers).map { batchRanges[$0] }
            let batches = try ranges.map { try connection.encode(events[$0]) }
            return PreparedWorker(connection: connection, ranges: ranges, batches: batches)
        }
        // Phase 2: send until done or out of time.
        let start = monotonicSeconds()
        let deadline = start + point.maxSeconds
        let sent = try runOnThreads(workers) { worker -> (batches: Int, events: Int, new: Int, finished: Double) in
            let work = prepared[worker]
            var batches = 0, acknowledged = 0, new = 0
            for batch in work.batches {
                if monotonicSeconds() >= deadline { break }
                new += try work.connection.send(batch)
                acknowledged += batch.eventCount
                batches += 1
            }
            return (batches, acknowledged, new, monotonicSeconds())
        }
        let finished = sent.map(\.finished).max() ?? start
        var indices: [Range<Int>] = []
        for (worker, result) in sent.enumerated() { indices += prepared[worker].ranges.prefix(result.batches) }
        var resendNew = 0
        if let first = prepared.first, let batch = first.batches.first {
            resendNew = try first.connection.send(batch)
        }
        for work in prepared { work.connection.close() }
        return IngestOutcome(
            acknowledgedEvents: sent.reduce(0) { $0 + $1.events }, seconds: finished - start,
            acknowledgedIndices: indices, newEvents: sent.reduce(0) { $0 + $1.new }, newEventsOnResend: resendNew)
    }

    /// Sends `events` as fast as possible in batches of `batchSize` over `connections`, untimed
    /// in the report (used to load data); returns the seconds it took.
    @discardableResult
    static func load(_ system: any BenchSystem, events: [BenchEvent], batchSize: Int, connections: Int) throws -> Double {
        let outcome = try run(system, events: events, point: IngestPoint(batchSize: batchSize, connections: connections, maxEvents: events.count, maxSeconds: .infinity))
        guard outcome.acknowledgedEvents == events.count, outcome.newEvents == events.count else {
            throw BenchError("\(system.label) loaded \(outcome.newEvents) new of \(events.count) events")
        }
        return outcome.seconds
    }
}

/// A worker's connection and its batches, encoded before the clock starts.
private struct PreparedWorker: @unchecked Sendable {
    let connection: any BenchConnection
    let ranges: [Range<Int>]
    let batches: [EncodedBatch]
}
