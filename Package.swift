// swift-tools-version:6.1
import PackageDescription

// Dependencies are declared once, here. MeterCore, MeterLog and MeterEngine use none: the
// metering state machine, the write-ahead log and the single writer are plain Swift so they
// stay deterministic and fast to build. Only the edges (server, client, CLIs) use NIO,
// protobuf and argument parsing. The comparison benchmark against PostgreSQL and Redis, which links
// their C clients (libpq, hiredis), is a package of its own in Benchmarks/, so that `swift build`
// and `swift test` here need nothing but Swift. meterd's opt-in cluster mode (docs/cluster.md)
// links the NATS C client (Debian: libnats-dev) and is built only with the `Cluster` trait:
// `swift build --traits Cluster` (scripts/test does, and installs libnats-dev).
let dependencies: [Package.Dependency] = [
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    // Operations (docs/operations.md): logs, metrics, graceful shutdown, and the HTTP stack that
    // serves /metrics (and later the HTTP API and console). Hummingbird without its default
    // traits: swift-configuration is not needed.
    .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
    .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1", traits: []),
    // Access control (docs/security.md): SHA-256 of API key secrets and the secrets' randomness.
    // Only the edges use it; MeterCore stores the hashes as bytes it never computes.
    .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
    // TLS on TCP (docs/security.md), server and Swift client.
    .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
    // Webhook delivery of threshold notifications (docs/entitlements.md): pooled keep-alive
    // HTTP/1.1 and HTTPS on the server's own NIO event loops.
    .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
]
let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
let nioPosix = Target.Dependency.product(name: "NIOPosix", package: "swift-nio")
let swiftProtobuf = Target.Dependency.product(name: "SwiftProtobuf", package: "swift-protobuf")
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")
let serviceLifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let unixSignals = Target.Dependency.product(name: "UnixSignals", package: "swift-service-lifecycle")
let prometheus = Target.Dependency.product(name: "Prometheus", package: "swift-prometheus")
let hummingbird = Target.Dependency.product(name: "Hummingbird", package: "hummingbird")
let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")
let nioSSL = Target.Dependency.product(name: "NIOSSL", package: "swift-nio-ssl")
let asyncHTTPClient = Target.Dependency.product(name: "AsyncHTTPClient", package: "async-http-client")

let package = Package(
    name: "meterd",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MeterCore", targets: ["MeterCore"]),
        .library(name: "MeterLog", targets: ["MeterLog"]),
        .library(name: "MeterEngine", targets: ["MeterEngine"]),
        .library(name: "MeterClient", targets: ["MeterClient"]),
        // The wire codec and the generated messages, for the comparison benchmark's own meterd
        // client (Benchmarks/Package.swift), which frames requests itself on blocking sockets.
        .library(name: "MeterWire", targets: ["MeterWire"]),
        .library(name: "MeterProto", targets: ["MeterProto"]),
        // The seeded generator (SplitMix64), for the comparison benchmark's workload.
        .library(name: "MeterTestSupport", targets: ["MeterTestSupport"]),
        .executable(name: "meterd", targets: ["meterd"]),
        .executable(name: "meterctl", targets: ["meterctl"]),
        .executable(name: "meter-sidecar", targets: ["meter-sidecar"]),
        .executable(name: "meter-bench", targets: ["meter-bench"]),
    ],
    traits: [
        .trait(name: "Cluster", description: "meterd's cluster mode on NATS JetStream (links libnats; docs/cluster.md)."),
    ],
    dependencies: dependencies,
    targets: [
        // Pure, deterministic metering state machine: no I/O, no clock. One lock: the read-only
        // EntitlementCheckView the writer publishes for CheckEntitlement (outside the state itself).
        .target(name: "MeterCore"),
        // Segmented write-ahead log and snapshot files. The only target that touches files.
        // CRC-32C with the CPU's instruction where it has one (MeterLog falls back to tables).
        .target(name: "CCRC32C"),
        .target(name: "MeterLog", dependencies: ["CCRC32C"]),
        // The single writer: validate -> dedup -> append -> fsync -> apply -> reply, recovery, snapshots, backfill.
        .target(name: "MeterEngine", dependencies: ["MeterCore", "MeterLog"]),
        // Generated protobuf code (scripts/generate-proto from proto/), committed.
        .target(name: "MeterProto", dependencies: [swiftProtobuf]),
        // Frame codec, preface, method ids and status codes of the wire protocol (docs/protocol.md).
        .target(name: "MeterWire", dependencies: ["MeterProto", nioCore, swiftProtobuf]),
        // The wire-server core shared by meterd and meter-sidecar (no engine): NIO bootstrap over
        // Unix-domain and TCP sockets, connection state machine, router, replies and failures.
        .target(name: "MeterWireServer", dependencies: ["MeterWire", "MeterProto", nioCore, nioPosix, swiftProtobuf, logging, serviceLifecycle, nioSSL]),
        // Process operations shared by the executables: log handler (text, JSON lines) and the
        // Prometheus /metrics endpoint.
        .target(name: "MeterOperations", dependencies: ["MeterCore", logging, metrics, serviceLifecycle, prometheus, hummingbird, nioCore,
                                                      .product(name: "HummingbirdCore", package: "hummingbird"),
                                                      .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]),
        // meterd's services on the wire-server core, dispatching to the engine (in partitioned
        // cluster mode to partition owners, through the client); its metrics.
        .target(name: "MeterServer", dependencies: ["MeterCore", "MeterEngine", "MeterWire", "MeterWireServer", "MeterOperations", "MeterProto", "MeterClient", nioCore, nioPosix, swiftProtobuf,
                                                  logging, metrics, serviceLifecycle, crypto, asyncHTTPClient]),
        // The HTTP listener: JSON API (CloudEvents ingest, meters, usage query), OpenAPI document,
        // web console and /metrics, on the same engine as the binary protocol (docs/http-api.md).
        .target(name: "MeterHTTP", dependencies: ["MeterCore", "MeterEngine", "MeterServer", "MeterOperations", "MeterWire", "MeterWireServer", "MeterProto", "MeterClient",
                                                nioCore, logging, serviceLifecycle, prometheus, hummingbird, nioSSL,
                                                .product(name: "HummingbirdTLS", package: "hummingbird"),
                                                .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]),
        // The NATS C client (libnats-dev), wrapped for cluster mode (docs/cluster.md).
        .systemLibrary(name: "CNATS", path: "Sources/CNATS", pkgConfig: "libnats", providers: [.apt(["libnats-dev"])]),
        // Cluster mode: the replicated log on a NATS JetStream stream (R3) that every node
        // applies in order with its engine (docs/cluster.md).
        .target(name: "MeterCluster", dependencies: [.target(name: "CNATS", condition: .when(traits: ["Cluster"])), "MeterCore", "MeterLog", "MeterEngine", logging]),
        // async/await client over either transport.
        .target(name: "MeterClient", dependencies: ["MeterWire", "MeterProto", nioCore, nioPosix, swiftProtobuf, nioSSL]),
        .executableTarget(name: "meterd", dependencies: ["MeterCluster", "MeterServer", "MeterHTTP", "MeterWireServer", "MeterOperations", "MeterEngine", "MeterCore", "MeterWire", argumentParser, logging, metrics, serviceLifecycle, prometheus, nioSSL]),
        .executableTarget(name: "meterctl", dependencies: ["MeterClient", "MeterProto", "MeterCore", argumentParser]),
        // Batching ingestion next to a service: local socket, fsynced spool, forwarding with backoff.
        .target(name: "MeterSidecar", dependencies: ["MeterCore", "MeterClient", "MeterLog", "MeterWire", "MeterWireServer", "MeterProto", nioCore, nioPosix, swiftProtobuf, logging]),
        .executableTarget(name: "meter-sidecar", dependencies: ["MeterSidecar", "MeterClient", "MeterOperations", argumentParser, logging, metrics, serviceLifecycle, prometheus]),
        .executableTarget(name: "meter-bench", dependencies: ["MeterCore", "MeterLog", "MeterEngine", "MeterServer", "MeterWireServer", "MeterClient", "MeterProto", "MeterWire", "MeterTestSupport", "MeterOperations", nioCore, hummingbird,
                                                           .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]),
        // Runs the engine alone in a child process for the crash tests.
        .executableTarget(name: "meter-engine-driver", dependencies: ["MeterCore", "MeterEngine", unixSignals]),
        // Shared by every test target, meter-bench and the comparison benchmark: the seeded
        // generator (prints its seed), temporary directories, a raw blocking wire client. A plain
        // target (not a test target, no XCTest) so that executables can use it too.
        .target(name: "MeterTestSupport", dependencies: ["MeterWire", "MeterProto", nioCore, swiftProtobuf], path: "Tests/MeterTestSupport"),
        .testTarget(name: "MeterCoreTests", dependencies: ["MeterCore", "MeterTestSupport"]),
        .testTarget(name: "MeterLogTests", dependencies: ["MeterTestSupport", "MeterLog"], exclude: ["Inputs"]),
        .testTarget(name: "MeterEngineTests", dependencies: ["MeterTestSupport", "MeterCore", "MeterLog", "MeterEngine"], exclude: ["Inputs"]),
        .testTarget(name: "MeterServerTests", dependencies: ["MeterTestSupport", "MeterServer", "MeterWireServer", "MeterCore", "MeterEngine", "MeterProto", "MeterWire", nioCore, swiftProtobuf, crypto]),
        .testTarget(name: "MeterWireServerTests", dependencies: ["MeterWireServer", "MeterProto", "MeterWire", nioCore, swiftProtobuf, .product(name: "NIOEmbedded", package: "swift-nio")]),
        .testTarget(name: "MeterHTTPTests", dependencies: ["MeterTestSupport", "MeterHTTP", "MeterServer", "MeterCore", "MeterEngine", hummingbird,
                                                        .product(name: "HummingbirdTesting", package: "hummingbird")]),
        .testTarget(name: "MeterSidecarTests", dependencies: ["MeterTestSupport", "MeterSidecar", "MeterClient", "MeterWire", "MeterProto"]),
        .testTarget(name: "MeterClientTests", dependencies: ["MeterTestSupport", "MeterClient", "MeterWire", "MeterProto", nioCore, nioPosix]),
        .testTarget(name: "MeterWireTests", dependencies: ["MeterWire", "MeterProto", nioCore, swiftProtobuf, .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOTestUtils", package: "swift-nio")]),
        // Cluster mode's partition function and lease decisions, without NATS.
        .testTarget(name: "MeterClusterTests", dependencies: ["MeterCluster"]),
        // Cross-process tests: real child processes killed with SIGKILL.
        .testTarget(name: "MeterIntegrationTests", dependencies: ["MeterTestSupport", "MeterCore", "MeterWire", "MeterProto", "MeterClient", swiftProtobuf, nioCore]),
    ],
    swiftLanguageModes: [.v6]
)
