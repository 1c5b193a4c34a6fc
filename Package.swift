// swift-tools-version:6.1
import PackageDescription

// Dependencies are declared once, here. MeterCore and MeterLog use none: the metering
// state machine and the write-ahead log are plain Swift so that they stay deterministic
// and fast to build. NIO, protobuf and friends arrive with the wire server.

let package = Package(
    name: "meterd",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MeterCore", targets: ["MeterCore"]),
        .library(name: "MeterLog", targets: ["MeterLog"]),
        .library(name: "MeterEngine", targets: ["MeterEngine"]),
        .executable(name: "meterd", targets: ["meterd"]),
        .executable(name: "meter-bench", targets: ["meter-bench"]),
    ],
    targets: [
        // Pure, deterministic metering state machine: no I/O, no clock, no locks.
        .target(name: "MeterCore"),
        // Segmented write-ahead log, snapshots and the single-writer engine. The only target that touches files.
        .target(name: "MeterLog"),
        // The single writer: validate -> dedup -> append -> fsync -> apply -> reply, recovery, snapshots, backfill.
        .target(name: "MeterEngine", dependencies: ["MeterCore", "MeterLog"]),
        // Placeholders for the wire protocol issue: generated protobuf code, frame codec, server, client.
        .target(name: "MeterProto"),
        .target(name: "MeterWire"),
        .target(name: "MeterServer", dependencies: ["MeterCore", "MeterEngine", "MeterWire"]),
        .target(name: "MeterClient", dependencies: ["MeterWire"]),
        .executableTarget(name: "meterd", dependencies: ["MeterCore", "MeterLog"]),
        .executableTarget(name: "meter-bench", dependencies: ["MeterCore", "MeterLog", "MeterEngine"]),
        // Runs the engine in a child process for the crash tests (until meterd speaks the wire protocol).
        .executableTarget(name: "meter-engine-driver", dependencies: ["MeterCore", "MeterEngine"]),
        .testTarget(name: "MeterCoreTests", dependencies: ["MeterCore"]),
        .testTarget(name: "MeterLogTests", dependencies: ["MeterLog"], exclude: ["Inputs"]),
        .testTarget(name: "MeterEngineTests", dependencies: ["MeterCore", "MeterLog", "MeterEngine"]),
        // Cross-process tests: real child processes killed with SIGKILL.
        .testTarget(name: "MeterIntegrationTests", dependencies: ["MeterCore"]),
    ],
    swiftLanguageModes: [.v6]
)
