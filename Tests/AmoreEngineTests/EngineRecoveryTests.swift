import AmoreCore
import AmoreKafka
import AmoreSimulation
import AmoreTestSupport
import Foundation
import Testing

/// Crashes, graceful stops and a second instance, with the engine as a separate process.
@Suite(.serialized) struct EngineRecoveryTests {
    /// Two simulated markets (Austin and Houston) for `duration_ms`, produced
    /// to the input topics; returns the number of order and courier records.
    static func writeSimulatedMarkets(_ input: InputWriter, duration_ms: Int64) throws -> Int {
        var count = 0
        for (city, seed) in [(City.austin, UInt64(42)), (City.houston, 7)] {
            var settings = MarketSimulator.Settings()
            settings.city = city
            settings.restaurants = 40
            settings.couriers = 300
            settings.ordersPerSecond = 1
            settings.seed = seed
            var simulator = MarketSimulator(settings: settings)
            for profile in simulator.profiles { try input.send(profile) }
            for event in simulator.record(duration_ms: duration_ms) {
                switch event {
                case .order(let order): try input.send(order)
                case .ping(let ping): try input.send(ping)
                }
                count += 1
            }
        }
        try input.flush()
        return count
    }

    /// An uninterrupted run and a run killed with SIGKILL mid-stream and restarted, over
    /// the same input, end with identical rankings and versions in every zone. The
    /// uninterrupted run ends with SIGTERM: exit 0, everything committed.
    @Test func aRunKilledMidStreamAndRestartedEndsLikeAnUninterruptedOne() throws {
        let servers = try TestBroker.bootstrapServers()
        let topics = TestTopics("recovery")
        try topics.createInputs(servers: servers, partitions: 4)
        let records = try Self.writeSimulatedMarkets(InputWriter(servers: servers, topics: topics), duration_ms: 240_000)
        let inputs = [topics.orders, topics.couriers]

        let uninterrupted = topics.withOutput("a")
        let engineA = try EngineProcess(servers: servers, topics: uninterrupted)
        #expect(engineA.waitUntilCaughtUp(expectedRecords: records, timeout_s: 120), "\(engineA.logTail())")
        #expect(engineA.terminate() == 0, "\(engineA.logTail())")
        let ends = try endOffsets(topics: inputs, servers: servers)
        #expect(try committedOffsets(group: uninterrupted.group, topics: inputs, servers: servers) == ends)
        let expected = latestRankings(try readAll(uninterrupted.rankings, servers: servers))
        try #require(expected.count > 100)

        let crashed = topics.withOutput("b")
        let engineB = try EngineProcess(servers: servers, topics: crashed, extra: ["--no-checkpoints"])
        // Killed as soon as something is committed, mid-stream.
        _ = eventually(timeout_s: 60) {
            (try? committedOffsets(group: crashed.group, topics: inputs, servers: servers))?.values.contains { $0 > 0 } == true
        }
        engineB.killNow()
        // Mid-stream is what was committed, where a restart resumes: an engine reads ahead
        // of what it has applied (its passes apply for a bounded time), and a debug one on
        // a busy machine had read every record before its first commit (CI, 2026-12-03).
        let committedAtKill = try committedOffsets(group: crashed.group, topics: inputs, servers: servers)
        #expect(committedAtKill.values.contains { $0 > 0 }, "nothing was committed before the kill")
        #expect(committedAtKill.values.reduce(0, +) < ends.values.reduce(0, +),
                "everything was committed before the kill: \(committedAtKill) of \(ends)")

        // Without checkpoints: this is the full-replay path (CheckpointRecoveryTests
        // covers restores from checkpoints).
        let restarted = try EngineProcess(servers: servers, topics: crashed, extra: ["--no-checkpoints"])
        #expect(restarted.waitUntilCaughtUp(expectedRecords: records, timeout_s: 120), "\(restarted.logTail())")
        #expect(restarted.terminate() == 0)
        let actual = latestRankings(try readAll(crashed.rankings, servers: servers))
        #expect(actual.count == expected.count)
        let differences = rankingDifferences(expected: expected, actual: actual)
        #expect(differences.isEmpty, "\(differences.count) zones differ: \(differences.prefix(5))")
    }

    /// Two instances in one group split the partitions; when one stops, the other takes
    /// over its markets and keeps publishing them.
    @Test func twoInstancesSplitThePartitionsAndOneTakesOverWhenTheOtherStops() throws {
        let servers = try TestBroker.bootstrapServers()
        let topics = TestTopics("scaleout")
        try topics.createInputs(servers: servers, partitions: 4)
        let input = try InputWriter(servers: servers, topics: topics)
        // Market m<N> on partition N, its restaurant 40 km north of the last one's (zones
        // apart); prep 600 s.
        let markets = (0..<4).map { Identifier(validating: "m\($0)")! }
        for (index, market) in markets.enumerated() {
            try input.send(Scenario.profile("r\(index)", north_m: Double(index) * 40_000, ovens: 1, prep_s: 600,
                                            market: market))
        }
        try input.flush()

        let first = try EngineProcess(servers: servers, topics: topics)
        let second = try EngineProcess(servers: servers, topics: topics)

        // Live input: a courier per market, every 100 ms of wall time one event-second on,
        // alternating 800 m and 2,800 m from its restaurant (courier 200 s or 700 s, so
        // delivery moves 100 s and every zone is republished each event-second).
        let tick = Locked(0)
        let stop = Locked(false)
        let writer = TestThread {
            while !stop.value {
                let now = tick.withLock { tick -> Int in
                    tick += 1
                    return tick
                }
                for (index, market) in markets.enumerated() {
                    let away = now % 2 == 0 ? 800.0 : 2_800.0
                    try? input.send(Scenario.ping("k\(index)", north_m: Double(index) * 40_000 + away,
                                                  at: Scenario.t0 + Int64(now) * 1_000 + 100, market: market),
                                    partition: Int32(index))
                }
                try? input.flush()
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        defer {
            stop.withLock { $0 = true }
            writer.join()
        }

        // Each instance owns half: two order and two courier partitions.
        #expect(eventually(timeout_s: 30) { first.ownedInputPartitions().count == 4 && second.ownedInputPartitions().count == 4 },
                "first \(first.ownedInputPartitions()), second \(second.ownedInputPartitions())")
        #expect(first.ownedInputPartitions().isDisjoint(with: second.ownedInputPartitions()))
        func publishedMarkets(after asOf_ms: Int64) throws -> Set<String> {
            Set(try readAll(topics.rankings, servers: servers).compactMap { record -> String? in
                let json = record.json
                guard let asOf = (json["as_of_ms"] as? NSNumber)?.int64Value, asOf > asOf_ms else { return nil }
                return json["market_id"] as? String
            })
        }
        #expect(eventually(timeout_s: 20) { (try? publishedMarkets(after: Scenario.t0)) == Set(markets.map(\.description)) })

        #expect(second.terminate() == 0, "\(second.logTail())")
        let stoppedAt_ms = Scenario.t0 + Int64(tick.value) * 1_000
        // The first instance now owns all eight partitions and publishes every market.
        #expect(eventually(timeout_s: 30) { first.ownedInputPartitions().count == 8 }, "\(first.logTail())")
        #expect(eventually(timeout_s: 30) { (try? publishedMarkets(after: stoppedAt_ms + 2_000)) == Set(markets.map(\.description)) },
                "\(first.logTail())")
        #expect(first.terminate() == 0)
    }
}
