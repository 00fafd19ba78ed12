import AmoreCore
import AmoreKafka
import AmoreTestSupport
import Foundation
import Testing

/// Checkpoints against a real broker: an engine killed with SIGKILL at random points and
/// restarted each time (restoring from its checkpoints, some of them corrupted or torn on
/// purpose) ends with the rankings and versions of an uninterrupted run.
@Suite(.serialized) struct CheckpointRecoveryTests {
    /// Kill points: `AMORE_TEST_KILLS` (10 for the full drill, scripts/checkpoint-drill);
    /// CI runs 4.
    static var kills: Int { Int(ProcessInfo.processInfo.environment["AMORE_TEST_KILLS"] ?? "") ?? 4 }

    /// A chunk that claims to be the newest checkpoint of `pair` but is not one: either
    /// garbage after a valid chunk header (the checksum fails) or the first of two chunks
    /// whose second never comes (torn). Restores must pass over both.
    static func plantBadCheckpoint(_ topics: TestTopics, pair: Int32, torn: Bool, servers: String) throws {
        let producer = try Producer(configuration: KafkaConfiguration(bootstrapServers: servers), logger: quietLogger("plant"))
        var value: [UInt8] = []
        withUnsafeBytes(of: UInt32(0x4B43_4D41).littleEndian) { value.append(contentsOf: $0) }
        withUnsafeBytes(of: pair.littleEndian) { value.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64.random(in: 1 ... .max).littleEndian) { value.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(0).littleEndian) { value.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(torn ? 2 : 1).littleEndian) { value.append(contentsOf: $0) }
        value += Array("AMORECKP".utf8) + (0..<200).map { _ in UInt8.random(in: 0 ... 255) }
        try producer.send(to: topics.checkpoints, partition: pair, key: Array("pair-\(pair)/slot-0/chunk-0".utf8), value: value)
        try producer.flush()
    }

    @Test func anEngineKilledAtRandomPointsEndsLikeAnUninterruptedRun() throws {
        let servers = try TestBroker.bootstrapServers()
        let topics = TestTopics("checkpoint")
        try topics.createInputs(servers: servers, partitions: 4)
        let records = try EngineRecoveryTests.writeSimulatedMarkets(InputWriter(servers: servers, topics: topics),
                                                                   duration_ms: 240_000)
        let inputs = [topics.orders, topics.couriers]

        // Uninterrupted, without checkpoints: the reference.
        let uninterrupted = topics.withOutput("a")
        let engineA = try EngineProcess(servers: servers, topics: uninterrupted, extra: ["--no-checkpoints"])
        #expect(engineA.waitUntilCaughtUp(expectedRecords: records, timeout_s: 120), "\(engineA.logTail())")
        #expect(engineA.terminate() == 0, "\(engineA.logTail())")
        let expected = latestRankings(try readAll(uninterrupted.rankings, servers: servers))
        try #require(expected.count > 100)

        // Killed at `kills` random points of progress (by committed records), restarted
        // each time; every other restart finds a bad newest checkpoint planted first.
        let crashed = topics.withOutput("b")
        var generator = SystemRandomNumberGenerator()
        let points = (0..<Self.kills).map { _ in Double.random(in: 0.05...0.9, using: &generator) }.sorted()
        var restoredFromCheckpoint = 0
        var log = ""
        for (index, point) in points.enumerated() {
            func committedRecords() -> Int64 {
                ((try? committedOffsets(group: crashed.group, topics: inputs, servers: servers)) ?? [:])
                    .values.reduce(0, +)
            }
            let atStart = committedRecords()
            let engine = try EngineProcess(servers: servers, topics: crashed, extra: ["--checkpoint-interval-ms", "1000"])
            // At the kill point, and in any case past where this run started (it restored
            // and made progress of its own).
            // (or the end, when this run would pass it).
            let target = min(max(Int64(point * Double(records)), atStart + Int64(records / 50)), Int64(records) - 1)
            // Killed only once it has restored its four pairs (a run whose target is the end
            // would otherwise be killed before its restore).
            let reached = eventually(timeout_s: 90) {
                (committedRecords() >= target
                    && engine.logTail(100_000).components(separatedBy: "pair restored").count - 1 >= 4)
                    || !engine.process.isRunning
            }
            #expect(reached && engine.process.isRunning, "kill \(index) at \(point): \(engine.logTail())")
            engine.killNow()
            log += engine.logTail(100_000) + "\n"
            if index % 2 == 1 {
                try Self.plantBadCheckpoint(crashed, pair: Int32(index % 4), torn: index % 4 == 3, servers: servers)
            }
        }
        let last = try EngineProcess(servers: servers, topics: crashed, extra: ["--checkpoint-interval-ms", "1000"])
        // A restored engine reads only what follows its checkpoints: wait for everything to
        // be committed, then for the rankings to settle (the idle refresh follows the input).
        let ends = try endOffsets(topics: inputs, servers: servers)
        #expect(eventually(timeout_s: 120) {
            (try? committedOffsets(group: crashed.group, topics: inputs, servers: servers)) == ends
        }, "\(last.logTail())")
        _ = eventually(timeout_s: 30) {
            let actual = latestRankings((try? readAll(crashed.rankings, servers: servers)) ?? [])
            return actual.count == expected.count && expected.allSatisfy { actual[$0.key]?.version == $0.value.version }
        }
        #expect(last.terminate() == 0)
        log += last.logTail(100_000)
        restoredFromCheckpoint = log.components(separatedBy: "restore: checkpoint loaded").count - 1
        // Every start after the first finds checkpoints (4 pairs each; the last run too). Commits (every
        // 200 ms) run ahead of checkpoints (every 1,000 ms): restores replay from a
        // checkpoint to the committed offsets.
        let restoreLines = log.split(separator: "\n").filter { $0.contains("restore") || $0.contains("partitions assigned") }
        #expect(restoredFromCheckpoint >= 4 * points.count,
                "\(restoredFromCheckpoint) restores from a checkpoint:\n\(restoreLines.joined(separator: "\n"))")
        if points.count > 1 {
            #expect(log.contains("restore: passed over a checkpoint"), "no planted checkpoint was passed over")
        }

        let actual = latestRankings(try readAll(crashed.rankings, servers: servers))
        #expect(actual.count == expected.count)
        let differences = rankingDifferences(expected: expected, actual: actual)
        #expect(differences.isEmpty, "\(differences.count) zones differ: \(differences.prefix(5))")
    }
}
