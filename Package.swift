// swift-tools-version:6.1
import PackageDescription

// Dependencies point one way: CRdKafka → AmoreKafka → AmoreLocalBroker → amore;
// AmoreCore (the domain) depends on nothing; AmoreSimulation → AmoreCore;
// AmoreEngine (the pipeline) → AmoreCore + AmoreKafka; AmoreClient (the API tier's
// follower of the rankings topic) → AmoreCore + AmoreKafka, never the engine;
// AmoreHTTP (operations and queries over HTTP, for the engine and `amore serve`) →
// AmoreEngine + AmoreClient; amore (the command line) composes them.
// AmoreKafka knows Kafka, not pizzas; AmoreCore knows pizzas, not Kafka.
let package = Package(
    name: "amore",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "AmoreCore", targets: ["AmoreCore"]),
        .library(name: "AmoreSimulation", targets: ["AmoreSimulation"]),
        .library(name: "AmoreKafka", targets: ["AmoreKafka"]),
        .library(name: "AmoreLocalBroker", targets: ["AmoreLocalBroker"]),
        .library(name: "AmoreEngine", targets: ["AmoreEngine"]),
        .library(name: "AmoreHTTP", targets: ["AmoreHTTP"]),
        .library(name: "AmoreClient", targets: ["AmoreClient"]),
        .executable(name: "amore", targets: ["amore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.0.0"),
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
        // The streaming job: consume, decode, apply, publish, commit.
        .target(
            name: "AmoreEngine",
            dependencies: [
                "AmoreCore",
                "AmoreKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The API tier's follower of the rankings topic: a local lock-free board. Not the engine.
        .target(
            name: "AmoreClient",
            dependencies: ["AmoreCore", "AmoreKafka", .product(name: "Logging", package: "swift-log")]
        ),
        // Health, readiness, Prometheus metrics and ranking queries over HTTP.
        .target(
            name: "AmoreHTTP",
            dependencies: [
                "AmoreCore",
                "AmoreClient",
                "AmoreEngine",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            // The live map page, compiled into the binary: it works offline and behind a firewall.
            resources: [.embedInCode("Resources/map.html")]
        ),
        .executableTarget(
            name: "amore",
            dependencies: [
                "AmoreClient",
                "AmoreKafka",
                "AmoreLocalBroker",
                "AmoreEngine",
                "AmoreHTTP",
                "AmoreSimulation",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "AmoreCoreTests",
            dependencies: ["AmoreCore", "AmoreSimulation", "AmoreTestSupport"]
        ),
        // What the integration tests share: the test broker, threads, waiting.
        .target(
            name: "AmoreTestSupport",
            dependencies: ["AmoreCore", "AmoreKafka", "AmoreLocalBroker", .product(name: "Logging", package: "swift-log")],
            path: "Tests/AmoreTestSupport"
        ),
        .testTarget(
            name: "AmoreEngineTests",
            dependencies: ["AmoreCore", "AmoreEngine", "AmoreKafka", "AmoreSimulation", "AmoreTestSupport"]
        ),
        .testTarget(
            name: "AmoreSimulationTests",
            dependencies: ["AmoreCore", "AmoreSimulation", "AmoreTestSupport"]
        ),
        .testTarget(
            name: "AmoreHTTPTests",
            dependencies: ["AmoreCore", "AmoreHTTP", .product(name: "HummingbirdTesting", package: "hummingbird")]
        ),
        .testTarget(
            name: "AmoreKafkaTests",
            dependencies: ["AmoreKafka", "AmoreLocalBroker", "AmoreTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
