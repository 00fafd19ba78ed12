import AmoreCore
import AmoreKafka
import AmoreSimulation
import AmoreTestSupport
import Foundation
import Testing

/// `amore simulate` and `amore replay` as processes on the real broker.
@Suite struct SimulateReplayTests {
    static let city = ["--markets", "2", "--restaurants", "40", "--couriers", "300", "--malformed-fraction", "0.01",
                       "--seed", "5", "--start-ms", "1767225600000", "--duration", "3m"]

    /// A record as it arrives: key, bytes, timestamp, the deliberate-break header.
    struct Arrived: Hashable {
        let key: String
        let value: [UInt8]
        let timestamp_ms: Int64
        let malformed: String?
    }

    static func arrived(_ topics: TestTopics, servers: String) throws -> [InputTopic: [Arrived]] {
        var result: [InputTopic: [Arrived]] = [:]
        for (topic, name) in [(InputTopic.restaurants, topics.restaurants), (.orders, topics.orders), (.couriers, topics.couriers)] {
            let records = try readAll(name, servers: servers)
            // Every record of one key on one partition (the contracts' partitioning).
            let partitionsByKey = Dictionary(grouping: records, by: { $0.key ?? "" }).mapValues { Set($0.map(\.partition)) }
            #expect(partitionsByKey.values.allSatisfy { $0.count == 1 }, "\(name): a key on several partitions")
            result[topic] = records.sorted { ($0.partition, $0.offset) < ($1.partition, $1.offset) }.map {
                Arrived(key: $0.key ?? "", value: $0.value, timestamp_ms: $0.timestamp_ms, malformed: $0.headers[SimulatedRecord.malformedHeader])
            }
        }
        return result
    }

    /// Per topic and key, the records in order (a partition keeps each key's order).
    static func byKey(_ records: [Arrived]) -> [String: [Arrived]] { Dictionary(grouping: records, by: \.key) }

    @Test func aRecordingReplaysExactlyAndSimulatingToKafkaProducesTheSameRecords() throws {
        let servers = try TestBroker.bootstrapServers()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("amore-city-\(UUID().uuidString.prefix(8)).ndjson")
        defer { try? FileManager.default.removeItem(at: file) }

        let recorded = try runAmore(["simulate", "--out", file.path] + Self.city)
        try #require(recorded.status == 0, "\(recorded.errors)")
        #expect(recorded.errors.contains("total "), "the final progress line")
        var fromFile: [InputTopic: [Arrived]] = [:]
        let text = try String(contentsOf: file, encoding: .utf8)
        for (index, line) in text.split(separator: "\n").enumerated() {
            let record = try RecordFile.record(fromLine: line, number: index + 1)
            fromFile[record.topic, default: []].append(Arrived(key: String(decoding: record.key, as: UTF8.self), value: record.value,
                                                               timestamp_ms: record.timestamp_ms, malformed: record.malformed?.rawValue))
        }
        // Two markets of 40 restaurants; 300 couriers each pinging every 4 s for 180 s.
        #expect(fromFile[.restaurants]?.count == 80)
        #expect(fromFile[.couriers]?.count ?? 0 >= 2 * 300 * 45 - 100)
        #expect(fromFile.values.joined().contains { $0.malformed != nil })
        let orderKeys = Set((fromFile[.orders] ?? []).map(\.key))
        #expect(orderKeys.isSuperset(of: ["austin", "houston"]))

        let replayed = TestTopics("replay")
        let replay = try runAmore(["replay", file.path, "--speed", "max", "--brokers", servers] + replayed.topicArguments)
        try #require(replay.status == 0, "\(replay.errors)")
        let simulated = TestTopics("simulate")
        let simulate = try runAmore(["simulate", "--speed", "max", "--brokers", servers] + simulated.topicArguments + Self.city)
        try #require(simulate.status == 0, "\(simulate.errors)")

        for (name, topics) in [("replay", replayed), ("simulate", simulated)] {
            let arrived = try Self.arrived(topics, servers: servers)
            for topic in InputTopic.allCases {
                let expected = Self.byKey(fromFile[topic] ?? [])
                let got = Self.byKey(arrived[topic] ?? [])
                #expect(got.keys.sorted() == expected.keys.sorted(), "\(name) \(topic): keys")
                let different = expected.keys.filter { got[$0] != expected[$0] }
                #expect(different.isEmpty, "\(name) \(topic): records of \(different.prefix(3)) differ from the file")
            }
        }
    }

    @Test func replayStopsAtALineItCannotReadAndSaysWhere() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("amore-bad-\(UUID().uuidString.prefix(8)).ndjson")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data("""
            {"topic":"orders","key":"austin","timestamp_ms":1767225600000,"value":"{}"}
            {"topic":"orders","key":"austin","value":"{}"}

            """.utf8).write(to: file)
        let replay = try runAmore(["replay", file.path, "--brokers", "127.0.0.1:1"])
        #expect(replay.status != 0 && replay.status != nil)
        #expect(replay.errors.contains("line 2: field timestamp_ms: missing or not a whole number"), "\(replay.errors)")
    }
}

/// The README's run command as a new user meets it: no broker configured, a view that
/// changes, and Ctrl-C that leaves nothing behind.
@Suite struct DemoWithoutBrokerTests {
    @Test func itStartsABrokerShowsARankingAndCtrlCLeavesNoProcessBehind() throws {
        let demo = try EngineProcess("demo", servers: nil, topics: TestTopics("demo-local"), extra: [
            "--restaurants", "40", "--couriers", "400", "--history", "2m",
        ])
        let shown = eventually(timeout_s: 60) {
            ((try? String(contentsOf: demo.output, encoding: .utf8)) ?? "").contains("(austin) · version")
        }
        #expect(shown, "\(demo.logTail())")
        let log = (try? String(contentsOf: demo.log, encoding: .utf8)) ?? ""
        let port = log.firstMatch(of: /bootstrap_servers=127\.0\.0\.1:(\d+)/).map { String($0.1) }
        try #require(port != nil, "the demo says where its broker is: \(log.suffix(1_000))")

        #expect(!Self.processes(naming: "127.0.0.1:\(port!)").isEmpty, "the broker runs, and is found by its port")

        kill(demo.process.processIdentifier, SIGINT)
        #expect(demo.waitForExit(timeout_s: 30) == 0, "\(demo.logTail())")
        // The broker (Tansu, under its watchdog shell) is gone: nothing names its port.
        let leftovers = eventually(timeout_s: 5) { Self.processes(naming: "127.0.0.1:\(port!)").isEmpty }
        #expect(leftovers, "\(Self.processes(naming: "127.0.0.1:\(port!)"))")
    }

    static func processes(naming text: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { $0.allSatisfy(\.isNumber) }.compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let commandLine = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return commandLine.contains(text) ? "\(pid): \(commandLine)" : nil
        }
    }
}
