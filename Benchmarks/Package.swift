// swift-tools-version:6.1
import Foundation
import PackageDescription

// The root package's identity is its folder's name, which differs between clones.
let rootPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let root = rootPath.lastPathComponent.lowercased()

let package = Package(
    name: "AmoreBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.2.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The baseline: the same loops written directly on librdkafka's C API.
        .target(
            name: "RawKafkaLoops",
            path: "Sources/RawKafkaLoops",
            cSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.linkedLibrary("rdkafka")]
        ),
        .target(
            name: "BenchSupport",
            dependencies: ["RawKafkaLoops", .product(name: "AmoreLocalBroker", package: root)],
            path: "Sources/BenchSupport"
        ),
        .executableTarget(
            name: "KafkaThroughput",
            dependencies: [
                "BenchSupport",
                "RawKafkaLoops",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "AmoreKafka", package: root),
                .product(name: "AmoreLocalBroker", package: root),
            ],
            path: "KafkaThroughput",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "DecodeThroughput",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "AmoreCore", package: root),
            ],
            path: "DecodeThroughput",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // glibc's heap statistics, which Swift's Glibc module does not export.
        .target(name: "HeapStats", path: "Sources/HeapStats"),
        .executableTarget(
            name: "CoreRankings",
            dependencies: [
                "HeapStats",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "AmoreCore", package: root),
                .product(name: "AmoreSimulation", package: root),
            ],
            path: "CoreRankings",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "EngineThroughput",
            dependencies: [
                "BenchSupport",
                "RawKafkaLoops",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "AmoreCore", package: root),
                .product(name: "AmoreEngine", package: root),
                .product(name: "AmoreKafka", package: root),
                .product(name: "AmoreLocalBroker", package: root),
                .product(name: "AmoreSimulation", package: root),
            ],
            path: "EngineThroughput",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "CheckpointRestore",
            dependencies: [.product(name: "Benchmark", package: "benchmark"), .product(name: "AmoreCore", package: root)],
            path: "CheckpointRestore",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
