// swift-tools-version:6.1
import PackageDescription

// Dependencies point one way: CRdKafka → AmoreKafka → AmoreLocalBroker → amore;
// AmoreCore (the domain) depends on nothing; AmoreSimulation → AmoreCore.
// AmoreKafka knows Kafka, not pizzas; the domain modules arrive on top of it.
let package = Package(
    name: "amore",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "AmoreCore", targets: ["AmoreCore"]),
        .library(name: "AmoreSimulation", targets: ["AmoreSimulation"]),
        .library(name: "AmoreKafka", targets: ["AmoreKafka"]),
        .library(name: "AmoreLocalBroker", targets: ["AmoreLocalBroker"]),
        .executable(name: "amore", targets: ["amore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev (>= 2.8, or scripts/setup builds it)"])]
        ),
        // The domain: contracts, model, geo, ETA, rankings. No Kafka, no I/O.
        .target(name: "AmoreCore"),
        // A seeded city at dinner peak: for tests, benchmarks and `amore simulate`.
        .target(
            name: "AmoreSimulation",
            dependencies: ["AmoreCore", .product(name: "HeapModule", package: "swift-collections")]
        ),
        .target(
            name: "AmoreKafka",
            dependencies: [
                "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "AmoreLocalBroker",
            dependencies: [
                "AmoreKafka",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "amore",
            dependencies: [
                "AmoreKafka",
                "AmoreLocalBroker",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "AmoreCoreTests",
            dependencies: ["AmoreCore", "AmoreSimulation"]
        ),
        .testTarget(
            name: "AmoreKafkaTests",
            dependencies: ["AmoreKafka", "AmoreLocalBroker", .product(name: "Logging", package: "swift-log")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
