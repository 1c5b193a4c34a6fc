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
        .executable(name: "meterd", targets: ["meterd"]),
        .executable(name: "meter-bench", targets: ["meter-bench"]),
    ],
    targets: [
        // Pure, deterministic metering state machine: no I/O, no clock, no locks.
        .target(name: "MeterCore"),
        // Segmented write-ahead log, snapshots and the single-writer engine. The only target that touches files.
        .target(name: "MeterLog", dependencies: ["MeterCore"]),
        // Placeholders for the wire protocol issue: generated protobuf code, frame codec, server, client.
        .target(name: "MeterProto"),
        .target(name: "MeterWire"),
        .target(name: "MeterServer", dependencies: ["MeterCore", "MeterLog", "MeterWire"]),
        .target(name: "MeterClient", dependencies: ["MeterWire"]),
        .executableTarget(name: "meterd", dependencies: ["MeterCore", "MeterLog"]),
        .executableTarget(name: "meter-bench", dependencies: ["MeterCore", "MeterLog"]),
        .testTarget(name: "MeterCoreTests", dependencies: ["MeterCore"]),
        .testTarget(name: "MeterLogTests", dependencies: ["MeterCore", "MeterLog"], exclude: ["Inputs"]),
    ],
    swiftLanguageModes: [.v6]
)
