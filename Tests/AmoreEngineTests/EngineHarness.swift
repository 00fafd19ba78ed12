import AmoreCore
import AmoreKafka
import AmoreTestSupport
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Topics and a consumer group of one test's own, so tests never see each other's records.
struct TestTopics: Sendable {
    let restaurants: String
    let orders: String
    let couriers: String
    let rankings: String
    let deadLetters: String
    let checkpoints: String
    let group: String

    init(_ name: String) {
        let id = UUID().uuidString.prefix(8).lowercased()
        restaurants = "\(name)-\(id).restaurants"
        orders = "\(name)-\(id).orders"
        couriers = "\(name)-\(id).couriers"
        rankings = "\(name)-\(id).rankings"
        deadLetters = "\(name)-\(id).deadletter"
        checkpoints = "\(name)-\(id).checkpoints"
        group = "\(name)-\(id)"
    }

    /// The same input topics, another output topic and group: a second, independent run.
    func withOutput(_ suffix: String) -> TestTopics {
        TestTopics(restaurants: restaurants, orders: orders, couriers: couriers,
                   rankings: "\(rankings)-\(suffix)", deadLetters: "\(deadLetters)-\(suffix)",
                   checkpoints: "\(checkpoints)-\(suffix)", group: "\(group)-\(suffix)")
    }

    private init(restaurants: String, orders: String, couriers: String, rankings: String, deadLetters: String,
                 checkpoints: String, group: String) {
        self.restaurants = restaurants
        self.orders = orders
        self.couriers = couriers
        self.rankings = rankings
        self.deadLetters = deadLetters
        self.checkpoints = checkpoints
        self.group = group
    }

    /// The engine's flags: topics and group.
    var arguments: [String] { topicArguments + ["--group", group] }

    /// The topic flags alone (`amore simulate`, `amore replay`).
    var topicArguments: [String] {
        ["--restaurants-topic", restaurants, "--orders-topic", orders, "--couriers-topic", couriers,
         "--rankings-topic", rankings, "--dead-letter-topic", deadLetters, "--checkpoints-topic", checkpoints]
    }

    /// Creates the input topics, so that input can be produced before an engine starts.
    func createInputs(servers: String, partitions: Int32) throws {
        let admin = try TestBroker.admin(servers)
        try admin.createTopics([restaurants, orders, couriers].map { NewTopic($0, partitions: partitions) })
        _ = try admin.waitForTopics([restaurants, orders, couriers], minimumPartitions: Int(partitions))
    }
}

/// Writes input events as the contracts say: JSON, keyed by market (orders, pings) or
/// restaurant (profiles), CreateTime = event time.
final class InputWriter: Sendable {
    let producer: Producer
    let topics: TestTopics

    init(servers: String, topics: TestTopics) throws {
        producer = try Producer(configuration: KafkaConfiguration(bootstrapServers: servers, ["linger.ms": "1"]))
        self.topics = topics
    }

    func send(_ profile: RestaurantProfile) throws {
        try producer.send(to: topics.restaurants, key: Array(profile.restaurantID.description.utf8),
                          value: EventEncoder.encode(profile), timestamp_ms: profile.updatedAt_ms)
    }

    func send(_ event: OrderEvent, partition: Int32? = nil) throws {
        try producer.send(to: topics.orders, partition: partition, key: Array(event.marketID.description.utf8),
                          value: EventEncoder.encode(event), timestamp_ms: event.eventTime_ms)
    }

    func send(_ ping: CourierPing, partition: Int32? = nil) throws {
        try producer.send(to: topics.couriers, partition: partition, key: Array(ping.marketID.description.utf8),
                          value: EventEncoder.encode(ping), timestamp_ms: ping.eventTime_ms)
    }

    func sendRaw(_ topic: String, key: String?, value: [UInt8], timestamp_ms: Int64) throws {
        try producer.send(to: topic, key: key.map { Array($0.utf8) }, value: value, timestamp_ms: timestamp_ms)
    }

    func flush() throws { try producer.flush(timeout_ms: 20_000) }
}

/// A record read back from an output topic.
struct OutputRecord {
    let key: String?
    let value: [UInt8]
    let headers: [String: String]
    let partition: Int32
    let offset: Int64
    let timestamp_ms: Int64

    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(value))) as? [String: Any] ?? [:] }
}

/// A topic could not be read to its end in time.
struct ReadIncomplete: Error, CustomStringConvertible {
    let topic: String
    let partitionsNotAtEnd: [Int32]
    let recordsRead: Int
    let timeout_s: Double
    var description: String {
        "\(topic): partitions \(partitionsNotAtEnd) not read to their end within \(timeout_s) s (\(recordsRead) records read)"
    }
}

/// Calls `body` with every record of `topic`, every partition from its beginning to its
/// end, each partition in offset order; throws `ReadIncomplete` if that takes longer than
/// `timeout_s` (a silently partial read once made a chaos run's rankings look stale).
func forEachRecord(in topic: String, servers: String, properties: [String: String] = [:], timeout_s: Double = 30,
                   _ body: (OutputRecord) throws -> Void) throws {
    var configuration = KafkaConfiguration(bootstrapServers: servers, TestBroker.fastGroup.merging(properties) { _, given in given })
    configuration["group.id"] = "reader-\(UUID().uuidString)"
    configuration["enable.partition.eof"] = "true"
    let consumer = try Consumer(configuration: configuration, logger: quietLogger("reader"))
    defer { try? consumer.close() }
    let partitions = try consumer.metadata(topic: topic, timeout_ms: 10_000).topic(topic)?.partitions.map(\.id) ?? []
    try consumer.assign(partitions.map { TopicPartition(topic, $0, offset: KafkaOffset.beginning) })
    var remaining = Set(partitions)
    var count = 0
    let deadline = Date().addingTimeInterval(timeout_s)
    while !remaining.isEmpty {
        guard Date() < deadline else {
            throw ReadIncomplete(topic: topic, partitionsNotAtEnd: remaining.sorted(), recordsRead: count, timeout_s: timeout_s)
        }
        try consumer.poll(maxRecords: 10_000, timeout_ms: 100) { batch in
            for record in batch {
                var headers: [String: String] = [:]
                for header in record.headers { headers[header.name] = header.value.map { String(decoding: $0, as: UTF8.self) } }
                try body(OutputRecord(key: record.key.map { String(decoding: $0, as: UTF8.self) },
                                      value: record.value?.bytes ?? [], headers: headers,
                                      partition: record.partition, offset: record.offset,
                                      timestamp_ms: record.timestamp_ms))
                count += 1
            }
            for end in batch.reachedEnd { remaining.remove(end.partition) }
        }
    }
}

/// The group's committed offset of every partition of `topics`, per "topic[partition]"
/// (0 where none is committed).
func committedOffsets(group: String, topics: [String], servers: String) throws -> [String: Int64] {
    var configuration = KafkaConfiguration(bootstrapServers: servers, TestBroker.fastGroup)
    configuration["group.id"] = group
    let consumer = try Consumer(configuration: configuration, logger: quietLogger("committed"))
    defer { try? consumer.close() }
    var partitions: [TopicPartition] = []
    for topic in topics {
        for partition in try consumer.metadata(topic: topic).topic(topic)?.partitions ?? [] {
            partitions.append(TopicPartition(topic, partition.id))
        }
    }
    var result: [String: Int64] = [:]
    for partition in try consumer.committed(partitions) {
        result["\(partition.topic)[\(partition.partition)]"] = max(0, partition.offset ?? 0)
    }
    return result
}

/// The offset after the last record of every partition of `topics`, per "topic[partition]".
/// Read, not asked: the local broker's ListOffsets answer for the end can be short (3,591
/// for 3,600 records), but the high watermark in its fetch answers is right. So each
/// partition is read from that short end to its real one, and the watermark taken there.
func endOffsets(topics: [String], servers: String, timeout_s: Double = 30) throws -> [String: Int64] {
    var configuration = KafkaConfiguration(bootstrapServers: servers, TestBroker.fastGroup)
    configuration["group.id"] = "ends-\(UUID().uuidString)"
    configuration["enable.partition.eof"] = "true"
    let consumer = try Consumer(configuration: configuration, logger: quietLogger("ends"))
    defer { try? consumer.close() }
    var remaining = Set<TopicPartition>()
    for topic in topics {
        for partition in try consumer.metadata(topic: topic, timeout_ms: 10_000).topic(topic)?.partitions ?? [] {
            remaining.insert(TopicPartition(topic, partition.id))
        }
    }
    try consumer.assign(remaining.map { TopicPartition($0.topic, $0.partition, offset: KafkaOffset.end) })
    var result: [String: Int64] = [:]
    let deadline = Date().addingTimeInterval(timeout_s)
    while !remaining.isEmpty {
        guard Date() < deadline else {
            throw ReadIncomplete(topic: topics.joined(separator: ","), partitionsNotAtEnd: remaining.map(\.partition).sorted(),
                                 recordsRead: 0, timeout_s: timeout_s)
        }
        consumer.poll(maxRecords: 10_000, timeout_ms: 100) { batch in
            for end in batch.reachedEnd {
                let partition = TopicPartition(end.topic, end.partition)
                guard remaining.remove(partition) != nil,
                      let marks = consumer.cachedWatermarks(topic: end.topic, partition: end.partition) else { continue }
                result["\(end.topic)[\(end.partition)]"] = marks.high
            }
        }
    }
    return result
}

/// Everything in `topic`, every partition from its beginning to its end.
func readAll(_ topic: String, servers: String, properties: [String: String] = [:], timeout_s: Double = 30) throws -> [OutputRecord] {
    var records: [OutputRecord] = []
    try forEachRecord(in: topic, servers: servers, properties: properties, timeout_s: timeout_s) { records.append($0) }
    return records
}

/// The zones whose final ranking (version and entries) differs from `expected`'s, named.
func rankingDifferences(expected: [String: (version: Int64, entries: String)],
                        actual: [String: (version: Int64, entries: String)]) -> [String] {
    var differences: [String] = []
    for (zone, ranking) in expected where actual[zone]?.version != ranking.version || actual[zone]?.entries != ranking.entries {
        guard let got = actual[zone], got.version == ranking.version else {
            differences.append("\(zone): expected version \(ranking.version), got \(actual[zone]?.version ?? -1)")
            continue
        }
        // Same version, other entries: show where they part.
        let common = zip(ranking.entries, got.entries).prefix { $0 == $1 }.count
        let from = max(0, common - 80)
        func excerpt(_ text: String) -> String { String(text.dropFirst(from).prefix(240)) }
        differences.append("\(zone): version \(ranking.version), entries differ from character \(common): expected …\(excerpt(ranking.entries))… got …\(excerpt(got.entries))…")
    }
    for zone in actual.keys where expected[zone] == nil { differences.append("\(zone): not in the expected rankings") }
    return differences
}

/// Per zone, the ranking a consumer keeping the highest version ends with (the later of
/// equal versions), as (version, canonical JSON of its entries). Only the winners are
/// parsed whole: versions are read straight from the bytes (tens of thousands of records).
func latestRankings(_ records: [OutputRecord]) -> [String: (version: Int64, entries: String)] {
    var newest = NewestRankings()
    for record in records.sorted(by: { ($0.partition, $0.offset) < ($1.partition, $1.offset) }) { newest.add(record) }
    return newest.rankings
}

/// `latestRankings` of a whole rankings topic, read as it streams by (a long chaos run
/// publishes millions of rankings: only each zone's newest is kept). A zone is one key, so
/// one partition, read in offset order, as `latestRankings` sorts them.
func latestRankings(of topic: String, servers: String, timeout_s: Double = 30) throws -> [String: (version: Int64, entries: String)] {
    var newest = NewestRankings()
    try forEachRecord(in: topic, servers: servers, timeout_s: timeout_s) { newest.add($0) }
    return newest.rankings
}

/// Each zone's ranking of the highest version seen, the later of equal versions winning
/// (records must come in offset order per partition).
private struct NewestRankings {
    private var winners: [String: (version: Int64, record: OutputRecord)] = [:]

    mutating func add(_ record: OutputRecord) {
        guard let zone = record.key, let version = versionField(record.value) else { return }
        if let held = winners[zone], held.version > version { return }
        winners[zone] = (version, record)
    }

    var rankings: [String: (version: Int64, entries: String)] {
        winners.mapValues { winner in
            let entries = (try? JSONSerialization.data(withJSONObject: winner.record.json["entries"] ?? [], options: [.sortedKeys]))
                .map { String(decoding: $0, as: UTF8.self) } ?? ""
            return (winner.version, entries)
        }
    }
}

/// The top-level `"version":N` of a ranking document as the engine writes it.
func versionField(_ bytes: [UInt8]) -> Int64? {
    let needle = Array(#""version":"#.utf8)
    guard let start = bytes.indices.first(where: { bytes[$0...].starts(with: needle) }) else { return nil }
    var value: Int64 = 0
    var index = start + needle.count
    while index < bytes.count, (48...57).contains(bytes[index]) {
        value = value * 10 + Int64(bytes[index] - 48)
        index += 1
    }
    return index > start + needle.count ? value : nil
}

/// `amore run` (or `amore demo`) as a separate process, as production runs it.
final class EngineProcess {
    let process = Process()
    let output: URL
    let log: URL
    let topics: TestTopics
    /// The broker the engine was given (nil: it started one of its own).
    let servers: String?
    private(set) var http = ""

    /// The `amore` binary built beside this test bundle, or `AMORE_TEST_AMORE`'s (scripts/chaos
    /// passes a release build: debug engines cannot keep up with the full chaos load).
    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["AMORE_TEST_AMORE"] { return URL(fileURLWithPath: path) }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("amore")
    }

    /// - Parameters:
    ///   - command: `run`, or `demo` (the engine with a simulator and a watch view).
    ///   - awaitHTTP: wait for the HTTP address (false for a run expected to fail).
    ///   - servers: nil lets `amore` start a local broker of its own.
    ///   - environment: variables added to the test's own.
    init(_ command: String = "run", servers: String?, topics: TestTopics, extra: [String] = [], awaitHTTP: Bool = true,
         environment added: [String: String] = [:]) throws {
        self.topics = topics
        self.servers = servers
        let id = UUID().uuidString.prefix(8)
        output = FileManager.default.temporaryDirectory.appendingPathComponent("amore-engine-\(id).out")
        log = FileManager.default.temporaryDirectory.appendingPathComponent("amore-engine-\(id).log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = Self.binary
        let kafka = servers.map { ["--brokers", $0, "--kafka", "session.timeout.ms=2000", "--kafka", "heartbeat.interval.ms=200"] } ?? []
        process.arguments = [command, "--http", "127.0.0.1:0", "--partitions", "4"] + kafka + topics.arguments + extra
        var environment = ProcessInfo.processInfo.environment
        environment["AMORE_BROKERS"] = nil
        process.environment = environment.merging(added) { _, given in given }
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        guard awaitHTTP else { return }
        let found = eventually(timeout_s: 30) {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("AMORE_HTTP=") }) else {
                return !process.isRunning
            }
            http = String(line.dropFirst("AMORE_HTTP=".count))
            return true
        }
        guard found, !http.isEmpty else {
            throw Failure(description: "the engine did not report its HTTP address: \(logTail())")
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: output)
        // AMORE_KEEP_ENGINE_LOGS=1 keeps every engine's whole log for a post-mortem.
        if ProcessInfo.processInfo.environment["AMORE_KEEP_ENGINE_LOGS"] != nil {
            print("engine log kept: \(log.path)")
        } else {
            try? FileManager.default.removeItem(at: log)
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    func logTail(_ lines: Int = 30) -> String {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    /// GET `path`; (status, body), status 0 when nothing answered.
    func get(_ path: String) -> (status: Int, body: String) {
        let done = DispatchSemaphore(value: 0)
        let result = Locked<(Int, String)>((0, ""))
        var request = URLRequest(url: URL(string: "http://\(http)\(path)")!)
        request.timeoutInterval = 5
        URLSession.shared.dataTask(with: request) { data, response, _ in
            result.withLock { $0 = ((response as? HTTPURLResponse)?.statusCode ?? 0, data.map { String(decoding: $0, as: UTF8.self) } ?? "") }
            done.signal()
        }.resume()
        done.wait()
        return result.value
    }

    /// `/metrics` parsed: each sample line's series (name and labels as printed) to its value.
    func metrics() -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in get("/metrics").body.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    /// The input partitions this instance holds now, one `amore_consumer_lag` series each
    /// (the engine adds it on assignment and removes it on revoke).
    func ownedInputPartitions() -> Set<String> {
        Set(metrics().keys.filter { $0.hasPrefix("amore_consumer_lag{") })
    }

    /// The sum of every sample of `name` whose labels include all of `labels`.
    func sum(_ samples: [String: Double], _ name: String, _ labels: [String] = []) -> Double {
        samples.filter { series, _ in
            (series == name || series.hasPrefix("\(name){")) && labels.allSatisfy { series.contains($0) }
        }.values.reduce(0, +)
    }

    /// Waits until the engine is done with its input, by conditions, not time:
    /// - at least `expectedRecords` order and courier records were read (or refused; a
    ///   replay counts again), so the input is all there;
    /// - its group's committed offsets are the input topics' ends: every record applied,
    ///   and everything produced before that commit acknowledged (the engine commits
    ///   nothing earlier). Read is not applied: an engine pass applies for a bounded time;
    /// - after that commit no pair awaits its idle refresh and nothing produced awaits its
    ///   acknowledgement (`amore_pairs_awaiting_idle_refresh`, `amore_unacknowledged_publications`).
    func waitUntilCaughtUp(expectedRecords: Int, timeout_s: Double = 60) -> Bool {
        guard let servers else { return false }
        let deadline = Date().addingTimeInterval(timeout_s)
        let read = eventually(timeout_s: timeout_s) {
            let samples = metrics()
            return sum(samples, "amore_records_in_total", ["topic=\"\(topics.orders)\""])
                + sum(samples, "amore_records_in_total", ["topic=\"\(topics.couriers)\""])
                + sum(samples, "amore_rejected_records_total") >= Double(expectedRecords)
        }
        let inputs = [topics.orders, topics.couriers]
        guard read, let ends = try? endOffsets(topics: inputs, servers: servers) else { return false }
        return eventually(timeout_s: max(1, deadline.timeIntervalSinceNow)) {
            guard (try? committedOffsets(group: topics.group, topics: inputs, servers: servers)) == ends else { return false }
            let samples = metrics()
            let outstanding = samples.filter {
                ["amore_pairs_awaiting_idle_refresh", "amore_unacknowledged_publications"].contains($0.key)
            }
            return outstanding.count == 2 && outstanding.values.allSatisfy { $0 == 0 }
        }
    }

    /// SIGTERM, then the exit status; nil if the engine is still running after `timeout_s`.
    /// 60 s: a debug engine on a loaded CI machine once took over 20 s to stop
    /// (CheckpointRecoveryTests), and a reference run read before its engine had finished
    /// publishing made that test fail on the reference, not on the engine under test.
    func terminate(timeout_s: Double = 60) -> Int32? {
        kill(process.processIdentifier, SIGTERM)
        return waitForExit(timeout_s: timeout_s)
    }

    func killNow() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func waitForExit(timeout_s: Double) -> Int32? {
        guard eventually(timeout_s: timeout_s, { !process.isRunning }) else { return nil }
        return process.terminationStatus
    }
}

/// Runs `amore` with `arguments` to its end; (exit status, standard output, standard error).
/// - Parameter environment: when given, the only `AMORE_*` variables `amore` sees.
func runAmore(_ arguments: [String], environment: [String: String]? = nil,
              timeout_s: Double = 120) throws -> (status: Int32?, output: String, errors: String) {
    let process = Process()
    process.executableURL = EngineProcess.binary
    process.arguments = arguments
    if let environment {
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AMORE_") }
            .merging(environment) { _, given in given }
    }
    let id = UUID().uuidString.prefix(8)
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("amore-\(id).out")
    let errors = FileManager.default.temporaryDirectory.appendingPathComponent("amore-\(id).err")
    _ = FileManager.default.createFile(atPath: output.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
    defer {
        try? FileManager.default.removeItem(at: output)
        try? FileManager.default.removeItem(at: errors)
    }
    process.standardOutput = try FileHandle(forWritingTo: output)
    process.standardError = try FileHandle(forWritingTo: errors)
    try process.run()
    let ended = eventually(timeout_s: timeout_s) { !process.isRunning }
    if !ended { kill(process.processIdentifier, SIGKILL) }
    return (ended ? process.terminationStatus : nil,
            (try? String(contentsOf: output, encoding: .utf8)) ?? "", (try? String(contentsOf: errors, encoding: .utf8)) ?? "")
}

/// Runs a tool (a browser check, a contract tester) to its end, in the temporary
/// directory; (exit status, nil when it ran past `timeout_s` and was stopped; everything it
/// printed, standard output and error together).
func runTool(_ executable: String, _ arguments: [String], timeout_s: Double) throws -> (status: Int32?, printed: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = FileManager.default.temporaryDirectory
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("tool-\(UUID().uuidString.prefix(8)).log")
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: log) }
    process.standardOutput = try FileHandle(forWritingTo: log)
    process.standardError = process.standardOutput
    try process.run()
    let ended = eventually(timeout_s: timeout_s) { !process.isRunning }
    if !ended { process.terminate() }
    return (ended ? process.terminationStatus : nil, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
}
