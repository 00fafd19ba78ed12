// Produce and consume throughput of AmoreKafka against the same loops written directly
// on librdkafka's C API (RawKafkaLoops), interleaved in the same run against the same
// broker. Each iteration measures both and records their ratio, so machine noise that
// lasts longer than one iteration cancels out.
//
// Broker: AMORE_BENCH_BOOTSTRAP_SERVERS, else a local in-memory Tansu started here.
import AmoreKafka
import BenchSupport
import Benchmark
import Foundation
import RawKafkaLoops
import Synchronization

let recordsPerRun = 500_000
let valueBytes = 150
let partitions: Int32 = 3
let keys: [[UInt8]] = (0..<600).map { Array("restaurant-\($0)".utf8) }
let value: [UInt8] = (0..<valueBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }

enum Metric {
    static func rate(_ name: String) -> BenchmarkMetric { .custom("\(name)_krecords_per_s", polarity: .prefersLarger, useScalingFactor: false) }
    static func ratio(_ name: String) -> BenchmarkMetric { .custom("\(name)_amore_vs_raw_percent", polarity: .prefersLarger, useScalingFactor: false) }
}

/// The broker and a pre-filled topic for the consume benchmark, made once per process.
final class BenchEnvironment: Sendable {
    let servers: String
    let consumeTopic: String

    static let shared: BenchEnvironment = {
        do { return try BenchEnvironment() } catch { fatalError("benchmark set-up failed: \(error)") }
    }()

    private init() throws {
        servers = BenchBroker.shared.servers
        consumeTopic = "bench-consume-\(UUID().uuidString.prefix(8))"
        let admin = try Admin(configuration: KafkaConfiguration(bootstrapServers: servers))
        try admin.createTopics([NewTopic(consumeTopic, partitions: partitions)])
        try admin.waitForTopics([consumeTopic], minimumPartitions: Int(partitions))
        let (delivered, _) = try amoreProduce(servers: servers, topic: consumeTopic)
        precondition(delivered == recordsPerRun, "pre-filled \(delivered) of \(recordsPerRun) records (+1 warm-up)")
    }

    func freshTopic(_ prefix: String) throws -> String {
        let topic = "\(prefix)-\(UUID().uuidString.prefix(8))"
        let admin = try Admin(configuration: KafkaConfiguration(bootstrapServers: servers))
        try admin.createTopics([NewTopic(topic, partitions: partitions)])
        try admin.waitForTopics([topic], minimumPartitions: Int(partitions))
        return topic
    }
}

/// The same settings for both sides.
func producerProperties(_ servers: String) -> [String: String] {
    Producer.defaultProperties.merging(["bootstrap.servers": servers]) { _, new in new }
}

func consumerProperties(_ servers: String) -> [String: String] {
    ["bootstrap.servers": servers, "group.id": "bench", "enable.auto.commit": "false", "enable.auto.offset.store": "false"]
}

/// (records, seconds of steady state) for each side.
typealias Run = (records: Int, seconds: Double)

func rawProduce(servers: String, topic: String) throws -> Run {
    let cKeys = keys.map { strdup(String(decoding: $0, as: UTF8.self)) }
    defer { cKeys.forEach { free($0) } }
    var error = [CChar](repeating: 0, count: 512)
    var elapsed_ns: Int64 = 0
    let delivered = withRawConfig(producerProperties(servers)) { config in
        cKeys.map { UnsafePointer<CChar>($0) }.withUnsafeBufferPointer { keyPointers in
            value.withUnsafeBytes { valueBytes in
                raw_kafka_produce(config, topic, Int64(recordsPerRun), keyPointers.baseAddress, Int32(keys.count),
                                  valueBytes.baseAddress, valueBytes.count, &elapsed_ns, &error, error.count)
            }
        }
    }
    guard delivered >= 0 else { throw BenchFailure(description: "raw produce: \(cString(error))") }
    return (Int(delivered), Double(elapsed_ns) / 1e9)
}

func amoreProduce(servers: String, topic: String) throws -> Run {
    final class Counts: Sendable {
        let delivered = Atomic<Int>(0)
        let failed = Atomic<Int>(0)
    }
    let counts = Counts()
    var started = ContinuousClock.now
    var elapsed = 0.0
    do {
        let producer = try Producer(configuration: KafkaConfiguration(producerProperties(servers)), onDelivery: { report in
            if report.isDelivered { counts.delivered.add(1, ordering: .relaxed) } else { counts.failed.add(1, ordering: .relaxed) }
        })
        let handle = try producer.topic(topic)
        // Warm-up as in the raw loop: connection, producer id and metadata, untimed.
        try value.withUnsafeBytes { try producer.send(to: handle, key: nil, value: $0) }
        try producer.flush()
        counts.delivered.store(0, ordering: .relaxed)
        started = ContinuousClock.now
        try value.withUnsafeBytes { valueBytes in
            for i in 0..<recordsPerRun {
                try keys[i % keys.count].withUnsafeBytes { key in
                    try producer.send(to: handle, key: key, value: valueBytes, token: UInt(i))
                }
            }
        }
        try producer.close(timeout_ms: 60_000)
        // As in the raw loop: steady state ends when everything is flushed; destroying
        // the client (up to ~1 s while librdkafka's threads wind down) is not counted.
        elapsed = seconds(ContinuousClock.now - started)
    }
    let failed = counts.failed.load(ordering: .relaxed)
    guard failed == 0 else { throw BenchFailure(description: "\(failed) records failed") }
    return (counts.delivered.load(ordering: .relaxed), elapsed)
}

func rawConsume(servers: String, topic: String) throws -> Run {
    var error = [CChar](repeating: 0, count: 512)
    var checksum: Int64 = 0
    var elapsed_ns: Int64 = 0
    let got = withRawConfig(consumerProperties(servers)) { config in
        raw_kafka_consume(config, topic, partitions, Int64(recordsPerRun), &checksum, &elapsed_ns, &error, error.count)
    }
    guard got == recordsPerRun else { throw BenchFailure(description: "raw consume read \(got)") }
    blackHole(checksum)
    return (Int(got), Double(elapsed_ns) / 1e9)
}

func amoreConsume(servers: String, topic: String) throws -> Run {
    let consumer = try Consumer(configuration: KafkaConfiguration(consumerProperties(servers)))
    _ = try consumer.metadata(topic: topic)  // as the raw loop: metadata before assign
    try consumer.assign((0..<partitions).map { TopicPartition(topic, $0, offset: KafkaOffset.beginning) })
    var got = 0
    var checksum = 0
    var idle = 0
    var started = ContinuousClock.now
    while got < recordsPerRun && idle < 10 {
        let count = consumer.poll(maxRecords: 1_000, timeout_ms: 1_000) { batch in
            if got == 0 && !batch.isEmpty { started = ContinuousClock.now }
            for record in batch {
                let payload = record.value!
                checksum &+= payload.count &+ (record.key?.count ?? 0) &+ Int(Int8(bitPattern: payload[0]))
            }
            return batch.count
        }
        got += count
        idle = count == 0 ? idle + 1 : 0
    }
    let elapsed = seconds(ContinuousClock.now - started)
    try consumer.close()
    guard got >= recordsPerRun else { throw BenchFailure(description: "amore consume read \(got)") }
    blackHole(checksum)
    return (got, elapsed)
}

/// Runs both sides once, in alternating order, and records rates and their ratio.
func measurePair(_ benchmark: Benchmark, name: String, iteration: Int,
                 raw: () throws -> Run, amore: () throws -> Run) throws {
    func timed(_ body: () throws -> Run) throws -> Double {
        let run = try body()
        return Double(run.records) / run.seconds
    }
    var rawRate = 0.0
    var amoreRate = 0.0
    if iteration % 2 == 0 {
        rawRate = try timed(raw)
        amoreRate = try timed(amore)
    } else {
        amoreRate = try timed(amore)
        rawRate = try timed(raw)
    }
    if ProcessInfo.processInfo.environment["AMORE_BENCH_VERBOSE"] != nil {
        FileHandle.standardError.write(Data("\(name) iteration \(iteration): raw \(Int(rawRate / 1_000)) k/s, amore \(Int(amoreRate / 1_000)) k/s\n".utf8))
    }
    benchmark.measurement(Metric.rate("\(name)_raw"), Int(rawRate / 1_000))
    benchmark.measurement(Metric.rate("\(name)_amore"), Int(amoreRate / 1_000))
    benchmark.measurement(Metric.ratio(name), Int((amoreRate / rawRate * 100).rounded()))
}

let benchmarks: @Sendable () -> Void = {
    // Ratios vary ±10 % run to run on this shared 2-core machine (the broker shares it).
    let tolerance = BenchmarkThresholds(relative: [.p50: 25.0])
    func configuration(_ name: String) -> Benchmark.Configuration {
        let metrics = [Metric.rate("\(name)_raw"), Metric.rate("\(name)_amore"), Metric.ratio(name)]
        return .init(metrics: metrics, warmupIterations: 1, maxDuration: .seconds(60), maxIterations: 6,
                     thresholds: Dictionary(uniqueKeysWithValues: metrics.map { ($0, tolerance) }))
    }

    var produceIteration = 0
    Benchmark("kafka_produce_150B", configuration: configuration("produce")) { benchmark in
        let environment = BenchEnvironment.shared
        let rawTopic = try environment.freshTopic("bench-raw")
        let amoreTopic = try environment.freshTopic("bench-amore")
        try measurePair(benchmark, name: "produce", iteration: produceIteration,
                        raw: { try rawProduce(servers: environment.servers, topic: rawTopic) },
                        amore: { try amoreProduce(servers: environment.servers, topic: amoreTopic) })
        produceIteration += 1
    }

    var consumeIteration = 0
    Benchmark("kafka_consume_150B", configuration: configuration("consume")) { benchmark in
        let environment = BenchEnvironment.shared
        try measurePair(benchmark, name: "consume", iteration: consumeIteration,
                        raw: { try rawConsume(servers: environment.servers, topic: environment.consumeTopic) },
                        amore: { try amoreConsume(servers: environment.servers, topic: environment.consumeTopic) })
        consumeIteration += 1
    }
}
