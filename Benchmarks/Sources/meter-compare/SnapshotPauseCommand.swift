import Foundation
import ArgumentParser
import MeterTestSupport

extension MeterCompare {
    /// The snapshot-pause probe of the full run on its own, for comparing two builds of meterd:
    /// loads a state of `--events` events into a fresh meterd (Unix socket), then measures the
    /// longest latency of single events sent open loop while snapshots are written back to back.
    struct SnapshotPause: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "snapshot-pause",
            abstract: "Load a state, then measure request latency while meterd writes snapshots back to back.")

        @OptionGroup var common: CommonOptions

        @Option(help: "The meterd executable (default: next to this one).")
        var meterd: String?

        @Option(help: "Events loaded before the probe (every id is remembered for exactly-once).")
        var events = 10_000_000

        @Option(help: "Single events per second offered during the probe.")
        var rate: Double = 1_000

        @Option(help: "How long the probe runs, in seconds.")
        var seconds: Double = 10

        @Option(help: "How many probes to run one after another on the same state.")
        var repeats = 1

        @Option(help: "Seed of the generated events.")
        var seed: UInt64 = 20_261_125

        @Option(help: "An extra meterd argument (repeatable), e.g. --meterd-argument=--snapshot-write-mib-per-second=32.")
        var meterdArgument: [String] = []

        func run() throws {
            let directory = try common.workDirectory()
            let meterdPath = meterd ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("meterd").path
            let system = try MeterdSystem(binary: meterdPath, directory: directory + "/meterd-unix", transport: .unix, extraArguments: meterdArgument)
            defer { system.stop() }
            let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
            let span: Int64 = 30 * 86_400_000
            let generator = EventGenerator(seed: seed, customers: 10_000, startMs: nowMs - span, stepMs: Double(span - 600_000) / Double(events))
            var loaded = 0
            var loadSeconds = 0.0
            while loaded < events {
                let chunk = generator.events(loaded..<min(loaded + 200_000, events))
                loadSeconds += try IngestWorkload.load(system, events: chunk, batchSize: 1000, connections: 4)
                loaded += chunk.count
            }
            print(String(format: "snapshot-pause: loaded %d events in %.1f s", loaded, loadSeconds))
            for repeat_ in 1...repeats {
                let count = Int(rate * seconds)
                let probe = EventGenerator(seed: seed ^ UInt64(0x5A95_7A05 + repeat_), customers: 10_000, startMs: nowMs - 120_000, stepMs: 60_000 / Double(count))
                let result = try SnapshotPauseWorkload.run(system, events: probe.events(0..<count), eventsInState: loaded, rate: rate, connections: 8)
                print(String(format: "snapshot-pause run %d: %d snapshots in %.1f s; achieved %.0f/s; p50 %.0f µs, p99 %.0f µs, p99.9 %.0f µs, max %.0f µs",
                             repeat_, result.snapshotsWritten, result.seconds, result.achievedPerSecond,
                             result.p50Microseconds, result.p99Microseconds, result.p999Microseconds, result.maxMicroseconds))
                fflush(stdout)
            }
        }
    }
}
