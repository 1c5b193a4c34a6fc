import Glibc

// meter-bench: release-build benchmarks that print figures. Usage:
//   swift run -c release meter-bench core [events] [seed]
//   swift run -c release meter-bench engine [recovery-events] [data-directory]
//   swift run -c release meter-bench wire [data-directory]
//   swift run -c release meter-bench decode [batches]
let arguments = CommandLine.arguments.dropFirst()
let suite = arguments.first ?? "core"
let environmentSeed = getenv("METERD_BENCH_SEED").flatMap { UInt64(String(cString: $0)) }
switch suite {
case "core":
    let events = arguments.dropFirst().first.flatMap { Int($0) } ?? 2_000_000
    CoreBenchmark.run(eventCount: events, seed: environmentSeed ?? 42)
case "engine":
    let events = arguments.dropFirst().first.flatMap { Int($0) } ?? 10_000_000
    let directory = arguments.dropFirst(2).first ?? "./.build/bench-data"
    try await EngineBenchmark.run(directory: directory, recoveryEvents: events)
case "wire":
    try await WireBenchmark.run(directory: arguments.dropFirst().first ?? "./.build/bench-wire")
case "decode":
    try DecodeBenchmark.run(iterations: arguments.dropFirst().first.flatMap { Int($0) } ?? 1000)
default:
    print("unknown suite \(suite); known: core, engine, wire, decode")
    exit(2)
}
