import Dispatch
import Foundation
import Glibc
import MeterEngine

// meter-bench: release-build benchmarks that print figures. Usage:
//   swift run -c release meter-bench core [events] [seed]
//   swift run -c release meter-bench dedup [ids]
//   swift run -c release meter-bench engine [recovery-events] [data-directory]   (METERD_BENCH_KEEP=1: keep the recovery data)
//   swift run -c release meter-bench open [data-directory] [repeats] [events, to create it if missing]
//   swift run -c release meter-bench replay [data-directory] [events, to create it if missing] [repeats]
//   swift run -c release meter-bench wire [data-directory]
//   swift run -c release meter-bench decode [batches]
//   swift run -c release meter-bench ingest [batches-per-writer] [writers] [durability] [data-directory]
//   swift run -c release meter-bench fsync [syncs-per-run] [rounds] [directory]
//   swift run -c release meter-bench checksum
//   swift run -c release meter-bench decimal [iterations]
//   swift run -c release meter-bench log [records] [directory]
//   swift run -c release meter-bench remote SOCKET[,SOCKET...] [batches-per-writer] [writers] [batch-size]
//   swift run -c release meter-bench entitlement [events-per-second] [seconds] [directory]
//   swift run -c release meter-bench webhooks [notifications] [directory]
//   swift run -c release meter-bench customers [customers] [events-per-customer] [scenario]

/// Runs `body` to completion from synchronous top-level code. The top level stays synchronous
/// (no `await`), so the main thread never parks in dispatch_main, which valgrind 3.19 cannot
/// follow: this lets `valgrind --tool=callgrind` profile the engine, wire and ingest suites.
func blocking(_ body: @escaping @Sendable () async throws -> Void) throws {
    final class Outcome: @unchecked Sendable { var error: (any Error)? }
    let outcome = Outcome()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { try await body() } catch { outcome.error = error }
        done.signal()
    }
    done.wait()
    if let error = outcome.error { throw error }
}

let arguments = CommandLine.arguments.dropFirst()
let suite = arguments.first ?? "core"
let environmentSeed = getenv("METERD_BENCH_SEED").flatMap { UInt64(String(cString: $0)) }
switch suite {
case "core":
    let events = arguments.dropFirst().first.flatMap { Int($0) } ?? 2_000_000
    CoreBenchmark.run(eventCount: events, seed: environmentSeed ?? 42)
case "dedup":
    DedupBenchmark.run(idCount: arguments.dropFirst().first.flatMap { Int($0) } ?? 1_000_000)
case "engine":
    let events = arguments.dropFirst().first.flatMap { Int($0) } ?? 10_000_000
    let directory = arguments.dropFirst(2).first ?? "./.build/bench-data"
    try blocking { try await EngineBenchmark.run(directory: directory, recoveryEvents: events) }
case "open":
    let rest = Array(arguments.dropFirst())
    let directory = rest.first ?? "./.build/bench-open"
    let events = rest.dropFirst(2).first.flatMap { Int($0) } ?? 10_000_000
    try blocking {
        if !FileManager.default.fileExists(atPath: directory) {
            setenv("METERD_BENCH_KEEP", "1", 1)
            try await EngineBenchmark.recovery(directory: directory, events: events)
        }
        try await EngineBenchmark.open(directory: directory, repeats: rest.dropFirst().first.flatMap { Int($0) } ?? 3)
    }
case "replay":
    let rest = Array(arguments.dropFirst())
    try blocking {
        try await ReplayBenchmark.run(directory: rest.first ?? "./.build/bench-replay",
                                      events: rest.dropFirst().first.flatMap { Int($0) } ?? 10_000_000,
                                      repeats: rest.dropFirst(2).first.flatMap { Int($0) } ?? 3)
    }
case "wire":
    try blocking { try await WireBenchmark.run(directory: arguments.dropFirst().first ?? "./.build/bench-wire") }
case "decode":
    try DecodeBenchmark.run(iterations: arguments.dropFirst().first.flatMap { Int($0) } ?? 1000)
case "ingest":
    let rest = Array(arguments.dropFirst())
    let batches = rest.first.flatMap { Int($0) } ?? 25
    let writers = rest.dropFirst().first.flatMap { Int($0) } ?? 8
    guard let durability = Durability(parsing: rest.dropFirst(2).first ?? "fsync") else {
        print("durability must be fsync, none, interval or interval:N")
        exit(2)
    }
    try blocking {
        try await IngestBenchmark.run(directory: rest.dropFirst(3).first ?? "./.build/bench-ingest",
                                      batchesPerWriter: batches, writers: writers, durability: durability)
    }
case "fsync":
    let rest = Array(arguments.dropFirst())
    try FsyncProbe.run(directory: rest.dropFirst(2).first ?? "./.build/bench-fsync",
                       syncCount: rest.first.flatMap { Int($0) } ?? 3000, rounds: rest.dropFirst().first.flatMap { Int($0) } ?? 2)
case "checksum":
    ChecksumBenchmark.run()
case "decimal":
    try DecimalBenchmark.run(iterations: arguments.dropFirst().first.flatMap { Int($0) } ?? 10_000_000)
case "log":
    let rest = Array(arguments.dropFirst())
    try LogBenchmark.run(directory: rest.dropFirst().first ?? "./.build/bench-log", recordCount: rest.first.flatMap { Int($0) } ?? 1_000_000)
case "remote":
    let rest = Array(arguments.dropFirst())
    guard let sockets = rest.first?.split(separator: ",").map(String.init), !sockets.isEmpty else {
        print("usage: meter-bench remote SOCKET[,SOCKET...] [batches-per-writer] [writers] [batch-size]")
        exit(2)
    }
    try blocking {
        try await RemoteBenchmark.run(sockets: sockets, batchesPerWriter: rest.dropFirst().first.flatMap { Int($0) } ?? 200,
                                      writers: rest.dropFirst(2).first.flatMap { Int($0) } ?? 8,
                                      batchSize: rest.dropFirst(3).first.flatMap { Int($0) } ?? 100)
    }
case "entitlement":
    let rest = Array(arguments.dropFirst())
    try blocking {
        try await EntitlementBenchmark.run(directory: rest.dropFirst(2).first ?? "./.build/bench-entitlement",
                                           eventsPerSecond: rest.first.flatMap { Int($0) } ?? 100_000,
                                           seconds: rest.dropFirst().first.flatMap { Int($0) } ?? 10)
    }
case "webhooks":
    let rest = Array(arguments.dropFirst())
    try blocking {
        try await WebhookBenchmark.run(directory: rest.dropFirst().first ?? "./.build/bench-webhooks",
                                       count: rest.first.flatMap { Int($0) } ?? 20_000)
    }
case "customers":
    try CustomersBenchmark.run(arguments: Array(arguments.dropFirst()))
case "thresholds":
    ThresholdApplyBenchmark.run(records: arguments.dropFirst().first.flatMap { Int($0) } ?? 100)
default:
    print("unknown suite \(suite); known: core, customers, dedup, engine, open, replay, checksum, wire, decode, ingest, fsync, decimal, log, remote, entitlement, thresholds, webhooks")
    exit(2)
}
