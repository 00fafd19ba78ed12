#if canImport(Glibc)
import Glibc
#endif
import AmoreLocalBroker
import Foundation
import RawKafkaLoops

/// The broker the Kafka benchmarks talk to, made once per process:
/// `AMORE_BENCH_BOOTSTRAP_SERVERS`, else a local in-memory Tansu started here.
public final class BenchBroker: Sendable {
    public let broker: LocalBroker?
    public let servers: String

    public static let shared: BenchBroker = {
        do { return try BenchBroker() } catch { fatalError("benchmark set-up failed: \(error)") }
    }()

    private init() throws {
        if let servers = ProcessInfo.processInfo.environment["AMORE_BENCH_BOOTSTRAP_SERVERS"], !servers.isEmpty {
            broker = nil
            self.servers = servers
        } else {
            let broker = try LocalBroker.start()
            self.broker = broker
            servers = broker.bootstrapServers
        }
    }
}

/// What the Kafka benchmarks share: the C loops' configuration and small helpers.
public struct BenchFailure: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// librdkafka properties as the C loops take them (alternating key, value strings).
public func withRawConfig<R>(_ properties: [String: String], _ body: (raw_kafka_config) throws -> R) rethrows -> R {
    let flat = properties.sorted { $0.key < $1.key }.flatMap { [strdup($0.key), strdup($0.value)] }
    defer { flat.forEach { free($0) } }
    let pointers = flat.map { UnsafePointer<CChar>($0) }
    return try pointers.withUnsafeBufferPointer { buffer in
        try body(raw_kafka_config(pairs: buffer.baseAddress, pair_count: Int32(properties.count)))
    }
}

public func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// The C loop's error text.
public func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
