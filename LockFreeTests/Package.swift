// swift-tools-version:6.1
import Foundation
import PackageDescription

// The lock-free ranking index's concurrent tests, in a package of their own so that
// `./test` builds only what they need under ThreadSanitizer (AmoreCore and
// AmoreSimulation): built inside the root package, `swift test --sanitize=thread`
// compiled every target and dependency again (332 s in a fresh CI run) for two suites.
// They start no Kafka client, which TSan cannot run (docs/testing.md).
//
//   swift test --package-path LockFreeTests --sanitize=thread

// The root package's identity is its folder's name, which differs between clones.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent.lowercased()

let package = Package(
    name: "AmoreLockFreeTests",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [
        .testTarget(
            name: "LockFreeTests",
            dependencies: [
                .product(name: "AmoreCore", package: root),
                .product(name: "AmoreSimulation", package: root),
            ]
        ),
    ]
)
