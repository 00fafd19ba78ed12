// The engine end to end on a real broker, against raw librdkafka in the same run:
// - engine_vs_raw_consume: a pre-produced simulated Austin dinner peak (>= 1 M order
//   events and courier pings, AMORE_BENCH_ENGINE_EVENTS) read, decoded, applied and its
//   rankings published by the engine, against the C consume loop reading the same records.
// - engine_live_latency: input produced live at 50 k events/s (200,000 couriers pinging
//   every 4 s); the delay from the CreateTime of the record that triggers a ranking
//   refresh to the broker's acknowledgement of each ranking it publishes.
//
// Broker: AMORE_BENCH_BOOTSTRAP_SERVERS, else a local in-memory Tansu started here.
import AmoreCore
import AmoreEngine
import AmoreKafka
import AmoreSimulation
import BenchSupport
import Benchmark
import CoreMetrics
import Foundation
import RawKafkaLoops
import Synchronization

let environment = ProcessInfo.processInfo.environment
let inputEvents = Int(environment["AMORE_BENCH_ENGINE_EVENTS"] ?? "") ?? 1_000_000
let liveRate = 50_000
let liveDuration_s = Double(environment["AMORE_BENCH_LIVE_SECONDS"] ?? "") ?? 12
/// Not measured: a market started cold publishes every zone for the first time and then
/// settles (traced: 1,200-3,700 zones per refresh over its first ~6 s, 100-700 after, the
/// first ones at 30-40 ms); the bar is the steady state. 0 measures the cold start too.
let liveWarmUp_s = Double(environment["AMORE_BENCH_LIVE_WARMUP_SECONDS"] ?? "") ?? 10
let partitions: Int32 = 4

enum Metric {
    static let engineRate = BenchmarkMetric.custom("engine_krecords_per_s", polarity: .prefersLarger, useScalingFactor: false)
    static let rawRate = BenchmarkMetric.custom("raw_consume_krecords_per_s", polarity: .prefersLarger, useScalingFactor: false)
    static let ratio = BenchmarkMetric.custom("engine_vs_raw_percent", polarity: .prefersLarger, useScalingFactor: false)
    static let uncheckedRatio = BenchmarkMetric.custom("engine_without_checkpoints_vs_raw_percent", polarity: .prefersLarger,
                                                       useScalingFactor: false)
    /// CPU time of the engine's own thread per record read: what the engine costs apart
    /// from the broker and librdkafka's threads, far steadier than rates on a shared box.
    static let engineCPU = BenchmarkMetric.custom("engine_thread_cpu_ns_per_record", polarity: .prefersSmaller,
                                                  useScalingFactor: false)
    static let p50 = BenchmarkMetric.custom("event_to_publication_p50_us", polarity: .prefersSmaller, useScalingFactor: false)
    static let p99 = BenchmarkMetric.custom("event_to_publication_p99_us", polarity: .prefersSmaller, useScalingFactor: false)
    static let liveInput = BenchmarkMetric.custom("live_input_events_per_s", polarity: .prefersLarger, useScalingFactor: false)
    static let publications = BenchmarkMetric.custom("live_publications_per_s", polarity: .prefersLarger, useScalingFactor: false)
    static let waitP50 = BenchmarkMetric.custom("merge_wait_p50_us", polarity: .prefersSmaller, useScalingFactor: false)
    static let waitP99 = BenchmarkMetric.custom("merge_wait_p99_us", polarity: .prefersSmaller, useScalingFactor: false)
    static let waitP50Ratio = BenchmarkMetric.custom("merge_wait_vs_none_p50_percent", polarity: .prefersSmaller,
                                                     useScalingFactor: false)
}

func log(_ text: String) {
    FileHandle.standardError.write(Data("engine bench: \(text)\n".utf8))
}

/// The pre-produced input: a simulated Austin dinner peak, made once per process.
final class EngineBench: Sendable {
    let servers: String
    let inputs: EngineSettings.Topics
    let orders: Int
    let pings: Int

    static let shared: EngineBench = {
        do { return try EngineBench(servers: BenchBroker.shared.servers) } catch { fatalError("benchmark set-up failed: \(error)") }
    }()

    private init(servers: String) throws {
        self.servers = servers
        let inputs = freshTopics("bench-engine")
        self.inputs = inputs
        try createInputs(inputs, servers: servers)
        let producer = try Producer(configuration: KafkaConfiguration(bootstrapServers: servers))
        var simulator = MarketSimulator(settings: { var settings = MarketSimulator.Settings(); settings.demand = .constant; return settings }())
        for profile in simulator.profiles {
            try producer.send(to: inputs.restaurants, key: Array(profile.restaurantID.description.utf8),
                              value: EventEncoder.encode(profile), timestamp_ms: profile.updatedAt_ms)
        }
        var orders = 0
        var pings = 0
        var failure: Error?
        while orders + pings < inputEvents && failure == nil {
            simulator.run(until: simulator.now_ms + 1_000) { event in
                do {
                    switch event {
                    case .order(let order):
                        try producer.send(to: inputs.orders, key: Array(order.marketID.description.utf8),
                                          value: EventEncoder.encode(order), timestamp_ms: order.eventTime_ms)
                        orders += 1
                    case .ping(let ping):
                        try producer.send(to: inputs.couriers, key: Array(ping.marketID.description.utf8),
                                          value: EventEncoder.encode(ping), timestamp_ms: ping.eventTime_ms)
                        pings += 1
                    }
                } catch {
                    failure = error
                }
            }
        }
        if let failure { throw failure }
        try producer.close(timeout_ms: 120_000)
        self.orders = orders
        self.pings = pings
        log("pre-produced \(orders) order events and \(pings) courier pings (\(simulator.profiles.count) restaurants)")
    }
}

func freshTopics(_ prefix: String) -> EngineSettings.Topics {
    let id = UUID().uuidString.prefix(8).lowercased()
    var topics = EngineSettings.Topics()
    topics.restaurants = "\(prefix)-\(id).restaurants"
    topics.orders = "\(prefix)-\(id).orders"
    topics.couriers = "\(prefix)-\(id).couriers"
    topics.rankings = "\(prefix)-\(id).rankings"
    topics.deadLetters = "\(prefix)-\(id).deadletter"
    topics.checkpoints = "\(prefix)-\(id).checkpoints"
    return topics
}

func createInputs(_ topics: EngineSettings.Topics, servers: String) throws {
    let admin = try Admin(configuration: KafkaConfiguration(bootstrapServers: servers))
    let names = [topics.restaurants, topics.orders, topics.couriers]
    try admin.createTopics(names.map { NewTopic($0, partitions: partitions) })
    _ = try admin.waitForTopics(names, minimumPartitions: Int(partitions))
}

/// An engine with its own group and output topics, running on its own thread.
final class RunningEngine: Sendable {
    final class Failure: Sendable {
        let text = Mutex<String?>(nil)
    }

    let engine: Engine
    private let done = DispatchSemaphore(value: 0)
    private let failure = Failure()
    final class ThreadCPU: Sendable {
        /// CPU time of the engine's thread over its whole run, once it has returned.
        let ns = Atomic<Int64>(0)
    }

    private let threadCPU = ThreadCPU()

    init(servers: String, inputs: EngineSettings.Topics, checkpoints: Bool = true, mergeWait_ms: Int64 = 0,
         onPublished: (@Sendable (Int64) -> Void)? = nil) {
        var settings = EngineSettings(kafka: KafkaConfiguration(bootstrapServers: servers))
        // The local broker holds a group join for half the session timeout.
        settings.consumerProperties["session.timeout.ms"] = "2000"
        settings.consumerProperties["heartbeat.interval.ms"] = "200"
        // Experiments: librdkafka properties for the engine's consumers and producer.
        settings.consumerProperties.merge(experimentProperties("AMORE_BENCH_CONSUMER")) { _, new in new }
        settings.producerProperties.merge(experimentProperties("AMORE_BENCH_PRODUCER")) { _, new in new }
        let outputs = freshTopics("bench-out")
        settings.topics = inputs
        settings.topics.rankings = outputs.rankings
        settings.topics.deadLetters = outputs.deadLetters
        settings.topics.checkpoints = outputs.checkpoints
        settings.checkpoints = checkpoints
        settings.mergeWait_ms = mergeWait_ms
        settings.groupID = "bench-\(UUID().uuidString.prefix(8))"
        settings.partitions = partitions
        engine = Engine(settings: settings, metricsFactory: NOOPMetricsHandler.instance, onPublished: onPublished)
        let engine = engine
        let done = done
        let failure = failure
        let threadCPU = threadCPU
        let thread = Thread {
            let started_ns = threadCPUTime_ns()
            do { try engine.run() } catch { failure.text.withLock { $0 = "\(error)" } }
            threadCPU.ns.store(threadCPUTime_ns() - started_ns, ordering: .relaxed)
            done.signal()
        }
        thread.start()
    }

    /// Waits until `condition` holds; false when the engine failed or `timeout_s` passed.
    func wait(timeout_s: Double, until condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + .seconds(timeout_s)
        while ContinuousClock.now < deadline {
            if failure.text.withLock({ $0 }) != nil { return false }
            if condition() { return true }
            usleep(500)
        }
        return false
    }

    /// Stops the engine; returns its thread's CPU time (ns) over the whole run.
    @discardableResult
    func stop() throws -> Int64 {
        engine.stop()
        done.wait()
        if let failure = failure.text.withLock({ $0 }) { throw BenchFailure(description: "engine: \(failure)") }
        return threadCPU.ns.load(ordering: .relaxed)
    }
}

/// `key=value,...` from an environment variable; pairs without `=` are ignored.
func experimentProperties(_ variable: String) -> [String: String] {
    var properties: [String: String] = [:]
    for pair in (environment[variable] ?? "").split(separator: ",") {
        let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
        if parts.count == 2 { properties[parts[0]] = parts[1] }
    }
    return properties
}

func threadCPUTime_ns() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// Records per second from the first applied batch to the last record applied, and the
/// engine thread's CPU time per record over its whole run (start-up and shutdown included).
func engineThroughput(_ bench: EngineBench, checkpoints: Bool = true) throws -> (rate: Double, cpu_ns: Double) {
    let total = bench.orders + bench.pings
    let running = RunningEngine(servers: bench.servers, inputs: bench.inputs, checkpoints: checkpoints)
    guard running.wait(timeout_s: 60, until: { running.engine.status.appliedEvents > 0 }) else {
        try running.stop()
        throw BenchFailure(description: "the engine applied nothing in 60 s")
    }
    let started = ContinuousClock.now
    let first = running.engine.status.appliedEvents
    let finished = running.wait(timeout_s: 300) { running.engine.status.appliedEvents >= total }
    let elapsed = seconds(ContinuousClock.now - started)
    let applied = running.engine.status.appliedEvents
    let cpu_ns = try running.stop()
    guard finished else { throw BenchFailure(description: "the engine applied \(applied) of \(total) records") }
    return (Double(total - first) / elapsed, Double(cpu_ns) / Double(total))
}

/// The C loop reading the same records (both topics, from the beginning), records/s.
func rawConsumeRate(_ bench: EngineBench) throws -> Double {
    var records = 0
    var elapsed = 0.0
    for (topic, count) in [(bench.inputs.couriers, bench.pings), (bench.inputs.orders, bench.orders)] {
        var error = [CChar](repeating: 0, count: 512)
        var checksum: Int64 = 0
        var elapsed_ns: Int64 = 0
        // The engine's consumer tuning too, so that only the work differs.
        let properties = EngineSettings(kafka: KafkaConfiguration()).consumerProperties.merging([
            "bootstrap.servers": bench.servers, "group.id": "bench-raw-\(UUID().uuidString.prefix(8))",
            "enable.auto.commit": "false", "enable.auto.offset.store": "false",
        ]) { _, new in new }
        let got = withRawConfig(properties) { config in
            raw_kafka_consume(config, topic, partitions, Int64(count), &checksum, &elapsed_ns, &error, error.count)
        }
        guard got == count else { throw BenchFailure(description: "raw consume of \(topic) read \(got) of \(count): \(cString(error))") }
        blackHole(checksum)
        records += Int(got)
        elapsed += Double(elapsed_ns) / 1e9
    }
    return Double(records) / elapsed
}

/// (p50, p99 delay in µs, input events/s, publications/s) with input produced live.
func liveLatency(servers: String, mergeWait_ms: Int64 = 0) throws -> (p50_us: Int, p99_us: Int, input: Int, publications: Int) {
    let inputs = freshTopics("bench-live")
    try createInputs(inputs, servers: servers)
    var settings = MarketSimulator.Settings()
    settings.demand = .constant
    settings.couriers = liveRate * Int(settings.pingInterval_ms) / 1_000
    settings.ordersPerSecond = 10
    settings.start_ms = Int64(Date().timeIntervalSince1970 * 1_000)
    var simulator = MarketSimulator(settings: settings)
    let producer = try Producer(configuration: KafkaConfiguration(bootstrapServers: servers, ["linger.ms": "1"]))
    for profile in simulator.profiles {
        try producer.send(to: inputs.restaurants, key: Array(profile.restaurantID.description.utf8),
                          value: EventEncoder.encode(profile), timestamp_ms: profile.updatedAt_ms)
    }
    try producer.flush()

    let measuring = Atomic<Bool>(false)
    let delays = Mutex<[Int64]>([])
    let running = RunningEngine(servers: servers, inputs: inputs, mergeWait_ms: mergeWait_ms) { delay_ns in
        if measuring.load(ordering: .relaxed) { delays.withLock { $0.append(delay_ns) } }
    }
    guard running.wait(timeout_s: 30, until: { running.engine.status.isReady }) else {
        try running.stop()
        throw BenchFailure(description: "the engine did not get ready")
    }
    // Event time follows the wall clock from now on; the first seconds (group join,
    // first fetches) are not measured.
    let start_ms = Int64(Date().timeIntervalSince1970 * 1_000)
    simulator = MarketSimulator(settings: { var s = settings; s.start_ms = start_ms; return s }())
    var produced = 0
    var measuredFrom = ContinuousClock.now
    var measuredEvents = 0
    let began = ContinuousClock.now
    while true {
        let elapsed = seconds(ContinuousClock.now - began)
        if elapsed >= liveWarmUp_s + liveDuration_s { break }
        if elapsed >= liveWarmUp_s && !measuring.load(ordering: .relaxed) {
            measuring.store(true, ordering: .relaxed)
            measuredFrom = ContinuousClock.now
            measuredEvents = produced
        }
        var failure: Error?
        simulator.run(until: start_ms + Int64(elapsed * 1_000)) { event in
            do {
                switch event {
                case .order(let order):
                    try producer.send(to: inputs.orders, key: Array(order.marketID.description.utf8), value: EventEncoder.encode(order))
                case .ping(let ping):
                    try producer.send(to: inputs.couriers, key: Array(ping.marketID.description.utf8), value: EventEncoder.encode(ping))
                }
                produced += 1
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        usleep(5_000)
    }
    measuring.store(false, ordering: .relaxed)
    let measuredSeconds = seconds(ContinuousClock.now - measuredFrom)
    try producer.close()
    try running.stop()
    let sorted = delays.withLock { $0 }.sorted()
    guard !sorted.isEmpty else { throw BenchFailure(description: "no publication was acknowledged") }
    func percentile(_ p: Double) -> Int { Int(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] / 1_000) }
    return (percentile(0.50), percentile(0.99), Int(Double(produced - measuredEvents) / measuredSeconds),
            Int(Double(sorted.count) / measuredSeconds))
}

let benchmarks: @Sendable () -> Void = {
    // This shared 2-core machine (broker, engine and producer on the same cores) moves
    // these by ±20 % run to run.
    let tolerance = BenchmarkThresholds(relative: [.p50: 30.0])
    let throughputMetrics = [Metric.engineRate, Metric.rawRate, Metric.ratio, Metric.uncheckedRatio, Metric.engineCPU]
    Benchmark("engine_vs_raw_consume", configuration: .init(
        metrics: throughputMetrics, warmupIterations: 0, maxDuration: .seconds(600), maxIterations: 3,
        thresholds: Dictionary(uniqueKeysWithValues: throughputMetrics.map { ($0, tolerance) }))) { benchmark in
        let bench = EngineBench.shared
        let raw = try rawConsumeRate(bench)
        let (engine, cpu_ns) = try engineThroughput(bench)
        // The same engine without checkpoints (every 5 s per pair, the default), same run.
        let (unchecked, uncheckedCPU_ns) = try engineThroughput(bench, checkpoints: false)
        log("raw consume \(Int(raw / 1_000)) k records/s, engine \(Int(engine / 1_000)) k records/s, \(Int(engine / raw * 100)) %, "
            + "engine thread \(Int(cpu_ns)) ns CPU per record; without checkpoints \(Int(unchecked / 1_000)) k records/s "
            + "(\(Int(unchecked / raw * 100)) %), \(Int(uncheckedCPU_ns)) ns CPU per record")
        benchmark.measurement(Metric.uncheckedRatio, Int((unchecked / raw * 100).rounded()))
        benchmark.measurement(Metric.engineCPU, Int(cpu_ns))
        benchmark.measurement(Metric.rawRate, Int(raw / 1_000))
        benchmark.measurement(Metric.engineRate, Int(engine / 1_000))
        benchmark.measurement(Metric.ratio, Int((engine / raw * 100).rounded()))
    }

    let latencyMetrics = [Metric.p50, Metric.p99, Metric.liveInput, Metric.publications]
    Benchmark("engine_live_latency", configuration: .init(
        metrics: latencyMetrics, warmupIterations: 0, maxDuration: .seconds(600), maxIterations: 3,
        thresholds: Dictionary(uniqueKeysWithValues: latencyMetrics.map { ($0, tolerance) }))) { benchmark in
        let result = try liveLatency(servers: BenchBroker.shared.servers)
        log("live: input \(result.input) events/s, \(result.publications) publications/s, p50 \(result.p50_us) µs, p99 \(result.p99_us) µs")
        benchmark.measurement(Metric.p50, result.p50_us)
        benchmark.measurement(Metric.p99, result.p99_us)
        benchmark.measurement(Metric.liveInput, result.input)
        benchmark.measurement(Metric.publications, result.publications)
    }

    // What `engine.merge_wait_ms` costs live (docs/engine.md, "Partition pairs"): the same
    // live run without a wait (the baseline) and with one, alternating in each iteration.
    // The input's orders (10 a second, one market) are the sparse side pings wait for.
    let mergeWait_ms = Int64(environment["AMORE_BENCH_MERGE_WAIT_MS"] ?? "") ?? 500
    let mergeWaitMetrics = [Metric.p50, Metric.p99, Metric.waitP50, Metric.waitP99, Metric.waitP50Ratio]
    Benchmark("engine_live_latency_merge_wait", configuration: .init(
        metrics: mergeWaitMetrics, warmupIterations: 0, maxDuration: .seconds(900), maxIterations: 3,
        thresholds: Dictionary(uniqueKeysWithValues: mergeWaitMetrics.map { ($0, tolerance) }))) { benchmark in
        let none = try liveLatency(servers: BenchBroker.shared.servers)
        let waiting = try liveLatency(servers: BenchBroker.shared.servers, mergeWait_ms: mergeWait_ms)
        log("live, merge wait 0: p50 \(none.p50_us) µs, p99 \(none.p99_us) µs; \(mergeWait_ms) ms: p50 \(waiting.p50_us) µs, "
            + "p99 \(waiting.p99_us) µs (\(waiting.p50_us * 100 / max(none.p50_us, 1)) % of p50)")
        benchmark.measurement(Metric.p50, none.p50_us)
        benchmark.measurement(Metric.p99, none.p99_us)
        benchmark.measurement(Metric.waitP50, waiting.p50_us)
        benchmark.measurement(Metric.waitP99, waiting.p99_us)
        benchmark.measurement(Metric.waitP50Ratio, waiting.p50_us * 100 / max(none.p50_us, 1))
    }
}
