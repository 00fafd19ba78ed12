import AmoreCore
import AmoreSimulation
import AmoreTestSupport
import Testing

/// Scenarios with expected ETAs worked by hand from the model (ETAModel's doc comment):
///     delivery = max(queue wait + prep, courier arrival) + hand-off + travel
///     queue wait = ⌊orders ahead / ovens⌋ × prep; courier speed 4 m/s; hand-off 120 s.
/// Places are put due north or south of zone Z's centre, where distances are exact
/// multiples of a metre (1° of latitude = 111,195.08 m on the model's sphere).
@Suite struct MarketScenarioTests {
    static let zone = Scenario.zone
    static let t0 = Scenario.t0

    /// Zone Z's ranking as (restaurant id, delivery ETA) pairs, plus its version.
    static func ranking(_ market: borrowing MarketState) -> (entries: [(String, Int32)], version: Int64) {
        guard let snapshot = market.board.snapshot(of: zone) else { return ([], 0) }
        return (snapshot.entries.map { (market.board.identifier(at: $0.restaurant).description, $0.deliveryETA_s) }, snapshot.version)
    }

    static func entry(_ market: borrowing MarketState, _ id: String) -> RankedRestaurant? {
        market.board.snapshot(of: zone)?.entries.first { market.board.identifier(at: $0.restaurant).description == id }
    }

    @Test func aRestaurantWhoseQueueGrowsDropsAndAClosedOneDisappears() throws {
        var market = MarketState(marketID: "austin", board: RankingBoard())
        // A: 2,000 m north of Z's centre, 2 ovens, prep 600 s. Courier K1 800 m north of A.
        // B: 3,000 m south, 1 oven, prep 480 s. Courier K2 600 m south of B.
        // (K1 is 5,800 m from B and K2 5,600 m from A: beyond the 5,000 m search.)
        market.apply(Scenario.profile("A", north_m: 2_000, ovens: 2, prep_s: 600))
        market.apply(Scenario.profile("B", north_m: -3_000, ovens: 1, prep_s: 480, radius_m: 6_000))
        market.apply(Scenario.ping("K1", north_m: 2_800, at: Self.t0 + 100))
        market.apply(Scenario.ping("K2", north_m: -3_600, at: Self.t0 + 100))
        market.refreshRankings(asOf_ms: Self.t0 + 1_000)

        // A: queue 0, prep 600, courier 800/4 = 200, travel 2,000/4 = 500
        //    → max(600, 200) + 120 + 500 = 1,220.
        // B: queue 0, prep 480, courier 600/4 = 150, travel 3,000/4 = 750
        //    → max(480, 150) + 120 + 750 = 1,350.
        var ranking = Self.ranking(market)
        #expect(ranking.entries.map(\.0) == ["A", "B"])
        #expect(ranking.entries.map(\.1) == [1_220, 1_350])
        // Versions are the as-of event time of each publication.
        #expect(ranking.version == Self.t0 + 1_000)
        let foundA = Self.entry(market, "A")
        let a = try #require(foundA)
        #expect([a.queueWait_s, a.prep_s, a.courierArrival_s, a.handoff_s, a.travel_s, a.carryOutReady_s] == [0, 600, 200, 120, 500, 600])
        #expect(a.confidence == .low && a.reason == .prepTimeFromProfile)

        // Four orders placed at A: 4 ahead, 2 ovens → queue ⌊4/2⌋ × 600 = 1,200, carry-out 1,800,
        // delivery max(1,800, 200) + 120 + 500 = 2,420: now behind B (1,350).
        for index in 0..<4 { market.apply(Scenario.order("o\(index)", at: "A", .placed, Self.t0 + 2_000 + Int64(index))) }
        // The next ping crosses t0 + 3,000 ms: rankings refresh as of that second.
        market.apply(Scenario.ping("K1", north_m: 2_800, at: Self.t0 + 3_100))
        #expect(market.rankingsAsOf_ms == Self.t0 + 3_000)
        ranking = Self.ranking(market)
        #expect(ranking.entries.map(\.0) == ["B", "A"])
        #expect(ranking.entries.map(\.1) == [1_350, 2_420])
        #expect(ranking.version == Self.t0 + 3_000)
        #expect(Self.entry(market, "A")?.queueWait_s == 1_200)
        #expect(Self.entry(market, "A")?.carryOutReady_s == 1_800)

        // A closes: it leaves every zone; Z lists B alone.
        market.apply(Scenario.profile("A", north_m: 2_000, ovens: 2, prep_s: 600, open: false, updatedAt_ms: Self.t0 + 3_500))
        #expect(market.zones(of: "A").isEmpty)
        market.refreshRankings(asOf_ms: Self.t0 + 4_000)
        ranking = Self.ranking(market)
        #expect(ranking.entries.map(\.0) == ["B"])
        #expect(ranking.version == Self.t0 + 4_000)
        // An older profile (reopening) arriving late changes nothing.
        #expect(market.apply(Scenario.profile("A", north_m: 2_000, ovens: 2, prep_s: 600, updatedAt_ms: Self.t0)) == .late)
        #expect(market.zones(of: "A").isEmpty)
    }

    @Test func aCourierArrivingNearARestaurantLowersItsCourierArrival() throws {
        var market = MarketState(marketID: "austin", board: RankingBoard())
        // C: 1,000 m north of Z's centre (travel 250 s), 1 oven, prep 300 s.
        market.apply(Scenario.profile("C", north_m: 1_000, ovens: 1, prep_s: 300))
        // K: 3,000 m north of C → courier 750 s, which outlasts the kitchen (300 s):
        // delivery max(300, 750) + 120 + 250 = 1,120.
        market.apply(Scenario.ping("K", north_m: 4_000, at: Self.t0))
        market.refreshRankings(asOf_ms: Self.t0 + 1_000)
        let foundC = Self.entry(market, "C")
        var c = try #require(foundC)
        #expect(c.courierArrival_s == 750 && c.deliveryETA_s == 1_120)
        #expect(Self.ranking(market).version == Self.t0 + 1_000)

        // K rides to 400 m north of C → courier 100 s: delivery max(300, 100) + 120 + 250 = 670.
        market.apply(Scenario.ping("K", north_m: 1_400, at: Self.t0 + 1_500))
        market.refreshRankings(asOf_ms: Self.t0 + 2_000)
        let closerC = Self.entry(market, "C")
        c = try #require(closerC)
        #expect(c.courierArrival_s == 100 && c.deliveryETA_s == 670)
        #expect(Self.ranking(market).version == Self.t0 + 2_000)

        // K moves 40 m closer (courier 90 s): no part moved more than 30 s and the order is
        // the same, so Z is not republished...
        market.apply(Scenario.ping("K", north_m: 1_360, at: Self.t0 + 2_500))
        market.refreshRankings(asOf_ms: Self.t0 + 3_000)
        #expect(Self.ranking(market).version == Self.t0 + 2_000)
        #expect(market.takePublishedZones().filter { $0 == Self.zone }.count == 2)
        // ...until its heartbeat, 60 s of event time after the last publication (t0 + 2,000).
        market.apply(Scenario.ping("K", north_m: 1_360, at: Self.t0 + 61_500))
        market.refreshRankings(asOf_ms: Self.t0 + 62_000)
        #expect(Self.ranking(market).version == Self.t0 + 62_000)
        #expect(market.counters.heartbeats > 0)

        // K stops pinging: 60 s later it is stale, so C falls back to 900 s with low
        // confidence: delivery max(300, 900) + 120 + 250 = 1,270.
        market.refreshRankings(asOf_ms: Self.t0 + 122_000)
        let staleC = Self.entry(market, "C")
        c = try #require(staleC)
        #expect(c.courierArrival_s == 900 && c.deliveryETA_s == 1_270)
        #expect(c.reason == .noCourierNearby && c.confidence == .low)
        // A courier that is not available is not offered either.
        market.apply(Scenario.ping("K", north_m: 1_000, at: Self.t0 + 122_500, status: .delivering))
        market.refreshRankings(asOf_ms: Self.t0 + 123_000)
        #expect(Self.entry(market, "C")?.courierArrival_s == 900)
    }

    @Test func theOrderStateMachineIsIdempotentAndLearnsPrep() throws {
        var market = MarketState(marketID: "austin", board: RankingBoard())
        // D: 1 oven, prep 600 s; no courier anywhere (fallback 900 s).
        market.apply(Scenario.profile("D", north_m: 0, ovens: 1, prep_s: 600))
        let t = Self.t0
        let steps: [(OrderEvent, ApplyOutcome)] = [
            (Scenario.order("o1", at: "D", .placed, t), .applied),
            (Scenario.order("o1", at: "D", .placed, t + 1), .duplicate),         // redelivered
            (Scenario.order("o1", at: "D", .started, t + 60_000), .applied),
            (Scenario.order("o1", at: "D", .placed, t + 10), .late),             // arrives after started
            (Scenario.order("o1", at: "D", .ready, t + 960_000), .applied),      // 900 s of prep
            (Scenario.order("o1", at: "D", .started, t + 60_000), .late),
            (Scenario.order("o1", at: "D", .ready, t + 960_000), .duplicate),
            (Scenario.order("o2", at: "D", .ready, t + 970_000), .applied),      // first seen ready
            (Scenario.order("o2", at: "D", .placed, t + 100_000), .late),
            (Scenario.order("o2", at: "D", .started, t + 200_000), .late),       // no prep sample from it
            (Scenario.order("o3", at: "D", .placed, t + 971_000), .applied),
            (Scenario.order("o3", at: "D", .cancelled, t + 972_000), .applied),
            (Scenario.order("o3", at: "D", .pickedUp, t + 973_000), .late),      // after cancelled
            (Scenario.order("o4", at: "D", .placed, t + 974_000), .applied),
            (Scenario.order("o4", at: "E", .started, t + 975_000), .conflicting),
        ]
        for (event, expected) in steps {
            #expect(market.apply(event) == expected, "\(event.orderID) \(event.type.name)")
        }
        #expect(market.counters.orders[.applied] == 7)
        #expect(market.counters.orders[.duplicate] == 2)
        #expect(market.counters.orders[.late] == 5)
        #expect(market.counters.orders[.conflicting] == 1)
        #expect(market.counters.prepSamples == 1)

        market.refreshRankings(asOf_ms: t + 976_000)
        // Prep: 600 + 0.2 × (900 - 600) = 660. In the kitchen: o4 only → queue ⌊1/1⌋ × 660 = 660.
        // Delivery before travel: max(660 + 660, 900) + 120 = 1,440; no courier → low confidence.
        let foundD = market.estimate(of: "D")
        let d = try #require(foundD)
        #expect(d.prep_s == 660 && d.queueWait_s == 660 && d.carryOutReady_s == 1_320)
        #expect(d.courierArrival_s == 900 && d.deliveryBeforeTravel_s == 1_440)
        #expect(d.reason == .noCourierNearby)
        // D sits at Z's centre: travel 0.
        #expect(Self.entry(market, "D")?.deliveryETA_s == 1_440)
    }

    @Test func replayingTheSameEventsGivesIdenticalRankingsAndVersions() {
        func replay() -> (published: [GeohashCell], rankings: [GeohashCell: ZoneSnapshot], counters: MarketCounters) {
            var settings = MarketSimulator.Settings()
            settings.restaurants = 40
            settings.couriers = 600
            settings.ordersPerSecond = 3
            var simulator = MarketSimulator(settings: settings)
            var market = MarketState(marketID: "austin", board: RankingBoard())
            for profile in simulator.profiles { market.apply(profile) }
            var published: [GeohashCell] = []
            simulator.run(until: settings.start_ms + 600_000) { event in
                market.apply(event)
                published += market.takePublishedZones()
            }
            var rankings: [GeohashCell: ZoneSnapshot] = [:]
            for zone in Set(published) { rankings[zone] = market.board.snapshot(of: zone) }
            return (published, rankings, market.counters)
        }
        let first = replay()
        let second = replay()
        #expect(first.published == second.published)
        #expect(first.rankings == second.rankings)
        #expect(first.counters == second.counters)
        // Something really happened: zones republished, orders and pings applied.
        #expect(first.counters.publications > 2 * first.rankings.count)
        #expect(first.counters.orders[.applied] > 1_000 && first.counters.pings[.applied] > 80_000)
    }
    /// Dense zones (a few hundred restaurants each, more than a ranking holds): every zone
    /// on the board, whenever it was last published, lists its entries in ranking order
    /// (delivery ETA, then carry-out, then restaurant id), and every zone stays
    /// ranked as restaurants join (a binary insertion each) and move (estimates change).
    @Test func everyPublishedRankingIsInRankingOrder() throws {
        let (board, published) = simulatedMarket(restaurants: 400, couriers: 3_000, duration_ms: 180_000)
        var full = 0
        for zone in published {
            let entries = try #require(board.snapshot(of: zone)).entries.map { $0 }
            if entries.count == board.maxEntriesPerZone { full += 1 }
            for (a, b) in zip(entries, entries.dropFirst()) {
                let key = { (entry: RankedRestaurant) in (entry.deliveryETA_s, entry.carryOutReady_s) }
                let inOrder = key(a) < key(b)
                    || (key(a) == key(b) && board.identifier(at: a.restaurant) < board.identifier(at: b.restaurant))
                #expect(inOrder, "zone \(zone): \(a) before \(b)")
            }
        }
        #expect(full > 20, "zones with more restaurants than a ranking holds")
    }
}
