import AmoreCore
import AmoreSimulation
import Synchronization
import Testing

/// Two reader threads check every snapshot they read while the market's writer applies
/// a million simulated events. Runs under `swift test --sanitize=thread` too (./test does).
@Suite struct ConcurrentRankingTests {
    /// What a reader can check of a snapshot on its own.
    static func violations(in snapshot: ZoneSnapshot, board: RankingBoard) -> [String] {
        var problems: [String] = []
        for (position, entry) in snapshot.entries.enumerated() {
            let kitchen = entry.queueWait_s + entry.prep_s
            if entry.carryOutReady_s != kitchen { problems.append("carry-out is not queue + prep at \(position)") }
            if entry.deliveryETA_s != max(kitchen, entry.courierArrival_s) + entry.handoff_s + entry.travel_s {
                problems.append("delivery is not the sum of its parts at \(position)")
            }
            if entry.confidence != (entry.reason == nil ? .high : .low) { problems.append("confidence without reason at \(position)") }
            if !board.identifier(at: entry.restaurant).description.hasPrefix("r-") { problems.append("unknown restaurant") }
            if position > 0 {
                let previous = snapshot.entries[position - 1]
                if (previous.deliveryETA_s, previous.carryOutReady_s) > (entry.deliveryETA_s, entry.carryOutReady_s) {
                    problems.append("not sorted at \(position)")
                }
            }
        }
        return problems
    }

    @Test func readersSeeConsistentMonotonicSnapshotsWhileAMillionEventsApply() throws {
        var settings = MarketSimulator.Settings()
        settings.restaurants = 120
        settings.couriers = 2_000
        settings.pingInterval_ms = 1_000
        settings.ordersPerSecond = 4
        let simulator = MarketSimulator(settings: settings)
        let board = RankingBoard()
        var market = MarketState(marketID: settings.marketID, board: board)
        for profile in simulator.profiles { market.apply(profile) }
        // Every zone a restaurant is ranked in, known before the readers start.
        let zones = Array(Set(simulator.profiles.flatMap { market.zones(of: $0.restaurantID) })).sorted { $0.bits < $1.bits }
        try #require(zones.count > 100)

        let eventCount = 1_000_000
        let race = RaceRecord()
        let writer = MarketWriter(market: market, simulator: simulator)
        let writerThread = TestThread {
            writer.apply(eventCount)
            race.finished.store(true, ordering: .releasing)
        }
        let readers = (0..<2).map { reader in
            TestThread {
                var snapshot = ZoneSnapshot()
                var lastSeen = [Int64](repeating: 0, count: zones.count)
                var lastAsOf = [Int64](repeating: 0, count: zones.count)
                var lastEntries = [[RankedRestaurant]](repeating: [], count: zones.count)
                var random = SplitMix64(seed: UInt64(reader))
                var changes = 0
                while !race.finished.load(ordering: .acquiring) {
                    let index = Int(random.next() % UInt64(zones.count))
                    guard board.read(zones[index], into: &snapshot) else { continue }
                    var found = Self.violations(in: snapshot, board: board)
                    if snapshot.version < lastSeen[index] || snapshot.asOf_ms < lastAsOf[index] {
                        found.append("went back from version \(lastSeen[index]) to \(snapshot.version)")
                    }
                    if snapshot.version == lastSeen[index] && Array(snapshot.entries) != lastEntries[index] {
                        found.append("version \(snapshot.version) read with two contents")
                    }
                    if snapshot.version > lastSeen[index] { changes += 1 }
                    lastSeen[index] = snapshot.version
                    lastAsOf[index] = snapshot.asOf_ms
                    lastEntries[index] = Array(snapshot.entries)
                    race.report(found.prefix(5).map { "\(zones[index]): \($0)" })
                }
                race.observed.add(changes, ordering: .relaxed)
            }
        }
        writerThread.join()
        readers.forEach { $0.join() }
        #expect(race.problems.isEmpty, "\(race.problems.prefix(10))")
        #expect(writer.applied.load(ordering: .relaxed) == eventCount)
        // The readers really raced the writer: they saw rankings change under them.
        #expect(race.observed.load(ordering: .relaxed) > 1_000)
        #expect(writer.publications > 10_000)
    }
}

/// Owns the market on the writer thread (the single writer), feeding it simulated events.
final class MarketWriter: @unchecked Sendable {
    private var market: MarketState
    private var simulator: MarketSimulator
    let applied = Atomic<Int>(0)

    init(market: consuming MarketState, simulator: MarketSimulator) {
        self.market = market
        self.simulator = simulator
    }

    func apply(_ count: Int) {
        var done = 0
        while done < count {
            simulator.run(until: simulator.now_ms + 1_000) { event in
                guard done < count else { return }
                market.apply(event)
                done += 1
            }
        }
        applied.store(done, ordering: .relaxed)
    }

    /// After `apply` has returned (and the caller synchronised with its thread).
    var publications: Int { market.counters.publications }
}
