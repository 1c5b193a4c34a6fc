// swift-tools-version:6.1
import PackageDescription

// meter-compare: meterd against PostgreSQL and Redis, side by side in one run (scripts/bench,
// docs/benchmarks.md). A package of its own so that the root package builds and tests with
// nothing but Swift: this one links the C clients of the systems it compares, libpq and hiredis
// (Debian's libpq-dev and libhiredis-dev, installed by scripts/install-bench-packages). It uses
// meterd's wire codec and generated messages from the root package, by path, so it always
// measures the meterd next to it.
//
//   swift build --package-path Benchmarks -c release --product meter-compare
let dependencies: [Package.Dependency] = [
    .package(name: "meterd", path: ".."),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    // Latency percentiles.
    .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", exact: "0.2.0"),
]

let package = Package(
    name: "meterd-benchmarks",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "meter-compare", targets: ["meter-compare"]),
    ],
    dependencies: dependencies,
    targets: [
        // C clients of the systems meterd is compared with: libpq and hiredis from Debian.
        .systemLibrary(name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .executableTarget(name: "meter-compare", dependencies: [
            .product(name: "MeterWire", package: "meterd"),
            .product(name: "MeterProto", package: "meterd"),
            .product(name: "MeterTestSupport", package: "meterd"),
            "CPostgres", "CHiredis",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ], swiftSettings: [
            // Plain OS threads with blocking sockets, one per connection, by design (every system gets
            // the same client shape); Swift 5 mode spares them the Sendable annotations of tasks.
            .swiftLanguageMode(.v5),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
