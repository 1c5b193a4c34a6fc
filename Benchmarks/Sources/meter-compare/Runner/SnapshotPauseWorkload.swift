import Foundation

/// The longest pause a snapshot causes: meterd, holding a large state (the query workload's
/// events, every id remembered for exactly-once), is restarted with snapshots due after every
/// record and no growth rule, so it writes one snapshot after another, while single events are
/// sent at a low fixed rate (open loop, latency from the due time). Before snapshots moved off
/// the writer, every request that arrived during a snapshot waited for all of it.
enum SnapshotPauseWorkload {
    static let snapshotArguments = ["--snapshot-every-records", "1", "--snapshot-log-growth-percent", "0"]

    static func run(_ meterd: MeterdSystem, events: [BenchEvent], eventsInState: Int, rate: Double, connections: Int) throws -> BenchResults.SnapshotPauseRun {
        let normalArguments = meterd.extraArguments
        meterd.halt()
        meterd.extraArguments = normalArguments + snapshotArguments
        try meterd.start()
        defer {
            meterd.halt()
            meterd.extraArguments = normalArguments
            try? meterd.start()
        }
        let watcher = SnapshotWatcher(directory: meterd.dataDirectory)
        let began = monotonicSeconds()
        let latency = try LatencyWorkload.run(meterd, events: events, rate: rate, connections: connections)
        let seconds = monotonicSeconds() - began
        let written = watcher.stop()
        return BenchResults.SnapshotPauseRun(
            system: meterd.key, eventsInState: eventsInState, offeredPerSecond: rate, achievedPerSecond: latency.achievedPerSecond,
            connections: connections, seconds: seconds, snapshotsWritten: written,
            p50Microseconds: latency.p50Microseconds, p99Microseconds: latency.p99Microseconds,
            p999Microseconds: latency.p999Microseconds, maxMicroseconds: latency.maxMicroseconds)
    }
}

/// Counts the snapshot files that appear in a data directory (meterd keeps only the newest
/// two, so the directory is listed every 20 ms on a thread of its own).
final class SnapshotWatcher: @unchecked Sendable {
    private let directory: String
    private let lock = NSLock()
    private var seen = Set<String>()
    private var initial = Set<String>()
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    init(directory: String) {
        self.directory = directory
        initial = names()
        let thread = Thread { [self] in
            while true {
                let current = names()
                lock.lock()
                seen.formUnion(current)
                let stop = stopping
                lock.unlock()
                if stop { break }
                usleep(20_000)
            }
            finished.signal()
        }
        thread.start()
    }

    /// Stops watching; returns how many snapshot files appeared.
    func stop() -> Int {
        lock.lock()
        stopping = true
        lock.unlock()
        finished.wait()
        lock.lock()
        defer { lock.unlock() }
        return seen.subtracting(initial).count
    }

    private func names() -> Set<String> {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return Set(files.filter { $0.hasPrefix("snapshot-") && $0.hasSuffix(".snap") })
    }
}
