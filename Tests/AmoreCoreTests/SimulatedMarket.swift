import AmoreCore
import AmoreSimulation

/// A simulated city's market run on a board of its own for `duration_ms` of event time:
/// the board and every zone published on it, for tests that check what the core publishes.
func simulatedMarket(restaurants: Int, couriers: Int, duration_ms: Int64) -> (board: RankingBoard, published: Set<GeohashCell>) {
    var settings = MarketSimulator.Settings()
    settings.restaurants = restaurants
    settings.couriers = couriers
    var simulator = MarketSimulator(settings: settings)
    let board = RankingBoard()
    var market = MarketState(marketID: settings.marketID, board: board)
    for profile in simulator.profiles { market.apply(profile) }
    var published = Set<GeohashCell>()
    simulator.run(until: settings.start_ms + duration_ms) { event in
        market.apply(event)
        published.formUnion(market.takePublishedZones())
    }
    return (board, published)
}
