import AmoreKafka
import Foundation
import Logging
import Synchronization

/// The broker integration tests talk to: `AMORE_TEST_BOOTSTRAP_SERVERS`, which `./test`
/// sets after starting a local broker. Missing or unreachable is a failure, never a skip.
public enum TestBroker {
    public static let howToStart = """
        integration tests need a Kafka-protocol broker: run `./test` (it starts one), or start one with \
        `swift run amore broker` and export the AMORE_TEST_BOOTSTRAP_SERVERS=host:port line it prints
        """

    struct Unavailable: Error, CustomStringConvertible {
        let description: String
    }

    public static func bootstrapServers() throws -> String {
        guard let servers = ProcessInfo.processInfo.environment["AMORE_TEST_BOOTSTRAP_SERVERS"], !servers.isEmpty else {
            throw Unavailable(description: "AMORE_TEST_BOOTSTRAP_SERVERS is not set; \(howToStart)")
        }
        do {
            _ = try admin(servers).describeCluster(timeout_ms: 5_000)
        } catch {
            throw Unavailable(description: "no broker answers at \(servers) (\(error)); \(howToStart)")
        }
        return servers
    }

    public static func admin(_ servers: String) throws -> Admin {
        try Admin(configuration: KafkaConfiguration(bootstrapServers: servers))
    }

    /// A topic of its own for one test, created and with leaders for all partitions.
    public static func freshTopic(_ prefix: String, partitions: Int32) throws -> (servers: String, topic: String) {
        let servers = try bootstrapServers()
        let topic = "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        let admin = try admin(servers)
        try admin.createTopics([NewTopic(topic, partitions: partitions)])
        try admin.waitForTopics([topic], minimumPartitions: Int(partitions))
        return (servers, topic)
    }

    /// Settings that make group joins fast on Tansu (which holds a join for half the
    /// session timeout); harmless on Apache Kafka.
    public static let fastGroup: [String: String] = [
        "session.timeout.ms": "2000",
        "heartbeat.interval.ms": "200",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": "false",
    ]
}

/// A plain thread for blocking poll loops, kept off Swift concurrency's small pool.
public final class TestThread: Sendable {
    private let done = DispatchSemaphore(value: 0)

    public init(_ body: @escaping @Sendable () -> Void) {
        let done = self.done
        let thread = Thread {
            body()
            done.signal()
        }
        thread.start()
    }

    public func join() { done.wait() }
}

/// Polls `condition` until it holds or `timeout_s` passes; returns whether it held.
public func eventually(timeout_s: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout_s)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition()
}

extension UnsafeRawBufferPointer {
    public var bytes: [UInt8] { Array(self) }
}

/// A value shared between test threads (a `Mutex` that can be captured and passed around).
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    public init(_ value: Value) { mutex = Mutex(value) }
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R { try mutex.withLock { try body(&$0) } }
    public var value: Value { mutex.withLock { $0 } }
}

/// A logger for clients that are expected to fail to connect: only critical lines.
public func quietLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .critical
    return logger
}
