import AmoreCore
import AmoreSimulation
import Testing

/// A market restored from a checkpoint taken between any two events, then fed the events
/// after it, publishes exactly what the uninterrupted market publishes: the same zones in
/// the same order, at the same versions, with the same entries.
@Suite struct MarketCheckpointTests {
    /// One publication as the API tier sees it: restaurants by id (board indices differ
    /// between boards).
    struct Publication: Equatable, CustomStringConvertible {
        var zone: GeohashCell
        var version: Int64
        var asOf_ms: Int64
        /// Each entry with its restaurant's id (the entry's board index zeroed).
        var entries: [Entry]
        var description: String { "\(zone)@\(version) \(entries.prefix(2))" }
    }

    struct Entry: Equatable {
        var restaurant: Identifier
        var ranked: RankedRestaurant
    }

    static func publications(_ zones: [GeohashCell], on board: RankingBoard) -> [Publication] {
        zones.map { zone in
            let snapshot = board.snapshot(of: zone)!
            return Publication(zone: zone, version: snapshot.version, asOf_ms: snapshot.asOf_ms, entries: snapshot.entries.map {
                var ranked = $0
                ranked.restaurant = 0
                return Entry(restaurant: board.identifier(at: $0.restaurant), ranked: ranked)
            })
        }
    }

    /// A small city for 4 minutes of event time (about 3,500 events): orders go through
    /// every stage, couriers move and go stale, zones heartbeat.
    static func scenario() -> (settings: MarketSimulator.Settings, profiles: [RestaurantProfile], events: [SimulatedEvent]) {
        recorded
    }

    private static let recorded: (settings: MarketSimulator.Settings, profiles: [RestaurantProfile], events: [SimulatedEvent]) = {
        var settings = MarketSimulator.Settings()
        settings.restaurants = 30
        settings.couriers = 150
        settings.ordersPerSecond = 1
        settings.seed = 11
        var simulator = MarketSimulator(settings: settings)
        return (settings, simulator.profiles, simulator.record(duration_ms: 4 * 60_000))
    }()

    /// The uninterrupted run, once for every split: each publication with the index of
    /// the event that made it, the final board and counters.
    static let uninterrupted: (published: [(event: Int, publication: Publication)], board: RankingBoard,
                               counters: MarketCounters, orders: Int, couriers: Int) = {
        let (settings, profiles, events) = scenario()
        let board = RankingBoard(maxZones: 2_048)
        var market = MarketState(marketID: settings.marketID, board: board)
        for profile in profiles { market.apply(profile) }
        var published: [(Int, Publication)] = []
        for (index, event) in events.enumerated() {
            market.apply(event)
            published += publications(market.takePublishedZones(), on: board).map { (index, $0) }
        }
        return (published, board, market.counters, market.trackedOrderCount, market.courierCount)
    }()

    @Test(arguments: [0.0, 0.02, 0.6])
    func aRestoredMarketPublishesWhatTheUninterruptedOneDoes(at fraction: Double) throws {
        let (settings, profiles, events) = Self.scenario()
        let split = Int(Double(events.count) * fraction)
        let boardA = Self.uninterrupted.board
        let expected = Self.uninterrupted.published.filter { $0.event >= split }.map(\.publication)

        let boardB = RankingBoard(maxZones: 2_048)
        var before = MarketState(marketID: settings.marketID, board: boardB)
        for profile in profiles { before.apply(profile) }
        for event in events[..<split] {
            before.apply(event)
            _ = before.takePublishedZones()
        }
        var writer = CheckpointWriter()
        before.write(to: &writer)

        // A new instance: a board of its own.
        let boardC = RankingBoard(maxZones: 2_048)
        var reader = CheckpointReader(writer.bytes)
        var restored = try MarketState.restored(from: &reader, board: boardC, settings: MarketSettings())
        #expect(reader.remaining == 0)
        #expect(restored.counters == before.counters)
        #expect(restored.clock_ms == before.clock_ms && restored.rankingsAsOf_ms == before.rankingsAsOf_ms)
        var actual: [Publication] = []
        for event in events[split...] {
            restored.apply(event)
            actual += Self.publications(restored.takePublishedZones(), on: boardC)
        }
        #expect(expected.count > 20)
        #expect(actual.count == expected.count)
        let firstDifference = zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(firstDifference == nil, "first difference at \(firstDifference ?? -1): \(firstDifference.map { "\(actual[$0]) vs \(expected[$0])" } ?? "")")
        #expect(restored.counters == Self.uninterrupted.counters)
        #expect(restored.trackedOrderCount == Self.uninterrupted.orders)
        #expect(restored.courierCount == Self.uninterrupted.couriers)
        // Every zone of the new board holds what the uninterrupted one holds.
        let zones = boardA.publishedZones()
        #expect(Set(boardC.publishedZones()) == Set(zones))
        #expect(Self.publications(zones, on: boardC) == Self.publications(zones, on: boardA))
    }

    /// Every prefix of a checkpoint is refused with an error naming a field; none traps.
    @Test func aTruncatedCheckpointIsRefusedAtEveryLength() throws {
        let (settings, profiles, events) = Self.scenario()
        let board = RankingBoard(maxZones: 2_048)
        var market = MarketState(marketID: settings.marketID, board: board)
        for profile in profiles { market.apply(profile) }
        for event in events.prefix(1_000) {
            market.apply(event)
            _ = market.takePublishedZones()
        }
        var writer = CheckpointWriter()
        market.write(to: &writer)
        let bytes = writer.bytes
        var refused = 0
        for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 149)) {
            var reader = CheckpointReader(Array(bytes[..<length]))
            do {
                _ = try MarketState.restored(from: &reader, board: RankingBoard(maxZones: 2_048), settings: MarketSettings())
                Issue.record("a checkpoint cut at \(length) of \(bytes.count) bytes was accepted")
            } catch {
                refused += 1
                #expect(!error.description.isEmpty)
            }
        }
        #expect(refused >= 149)
    }

    @Test func theCodingRoundTripsItsPrimitivesAndRefusesOversizedCounts() throws {
        var writer = CheckpointWriter()
        writer.write(Int64.min)
        writer.write(-0.0 as Double)
        writer.write(Float.nan)
        writer.writeCount(300)
        writer.write(Identifier(validating: "courier-7")!)
        writer.write(nil as Int64?)
        var reader = CheckpointReader(writer.bytes)
        #expect(try reader.read(Int64.self, "a") == .min)
        #expect(try reader.readDouble("b").bitPattern == (-0.0 as Double).bitPattern)
        #expect(try reader.readFloat("c").isNaN)
        #expect(throws: CheckpointError.invalid(field: "d", offset: 8 + 8 + 4 + 2)) { try reader.readCount("d", limit: 299) }
        // CRC-32C of "123456789" is e3069283 (the standard check value).
        #expect(Array("123456789".utf8).withUnsafeBytes { CRC32C.checksum($0) } == 0xE306_9283)
    }
}
