/// How much each workload does: the full run behind docs/benchmarks.md, or the quick run CI
/// uses to keep the harness working (same code paths, small numbers, no speed asserted).
struct BenchmarkPlan: Sendable {
    var mode: String
    var customers: Int
    var runsPerPoint: Int
    var ingestPoints: [IngestPoint]
    var latencyRates: [Double]
    var latencySeconds: Double
    var latencyConnections: [Int]
    /// The snapshot-pause probe: single events at this rate for this long, over 8 connections.
    var snapshotPauseRate: Double
    var snapshotPauseSeconds: Double
    /// How long the fdatasync probe runs before the workloads.
    var fsyncProbeSeconds: Double
    var queryEvents: Int
    /// Restart times are measured when this many events are loaded, and again at `queryEvents`.
    var restartCheckpoint: Int
    var periodQueries: Int
    var dailyQueries: Int
    var growthCustomers: [Int]
    /// Events sent at each growth level: at least this many, and this many per customer.
    var growthMinimumEvents: Int
    var growthEventsPerCustomer: Int

    func growthEvents(_ customers: Int) -> Int { max(growthMinimumEvents, growthEventsPerCustomer * customers) }

    static func full() -> BenchmarkPlan {
        BenchmarkPlan(
            mode: "full", customers: 10_000, runsPerPoint: 3,
            ingestPoints: points(single: [20_000, 40_000], hundred: 400_000, thousand: 1_500_000, seconds: 3),
            latencyRates: [1_000, 4_000, 10_000, 20_000, 40_000], latencySeconds: 4, latencyConnections: [8, 64],
            snapshotPauseRate: 1_000, snapshotPauseSeconds: 10, fsyncProbeSeconds: 3,
            queryEvents: 10_000_000, restartCheckpoint: 1_000_000, periodQueries: 500, dailyQueries: 5,
            growthCustomers: [1_000, 100_000, 1_000_000], growthMinimumEvents: 1_000_000, growthEventsPerCustomer: 3)
    }

    static func quick() -> BenchmarkPlan {
        BenchmarkPlan(
            mode: "quick", customers: 1_000, runsPerPoint: 1,
            ingestPoints: points(single: [200, 400], hundred: 5_000, thousand: 20_000, seconds: 2),
            latencyRates: [200], latencySeconds: 1, latencyConnections: [4, 8],
            snapshotPauseRate: 200, snapshotPauseSeconds: 1, fsyncProbeSeconds: 0.5,
            queryEvents: 50_000, restartCheckpoint: 10_000, periodQueries: 20, dailyQueries: 3,
            growthCustomers: [1_000, 10_000], growthMinimumEvents: 20_000, growthEventsPerCustomer: 0)
    }

    private static func points(single: [Int], hundred: Int, thousand: Int, seconds: Double) -> [IngestPoint] {
        var points: [IngestPoint] = []
        for (index, connections) in [1, 8].enumerated() {
            points.append(IngestPoint(batchSize: 1, connections: connections, maxEvents: single[index], maxSeconds: seconds))
            points.append(IngestPoint(batchSize: 100, connections: connections, maxEvents: hundred, maxSeconds: seconds))
            points.append(IngestPoint(batchSize: 1000, connections: connections, maxEvents: thousand, maxSeconds: seconds))
        }
        return points
    }
}
