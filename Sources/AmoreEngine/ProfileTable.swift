import AmoreCore

/// The newest profile of every restaurant, by market: read in full from the compacted
/// profiles topic before the instance is ready, kept current afterwards, and given to a
/// market's state when the state is created or restored. Engine thread only.
final class ProfileTable {
    private var profiles: [Identifier: RestaurantProfile] = [:]
    private var restaurantsOfMarket: [Identifier: [Identifier]] = [:]

    var restaurantCount: Int { profiles.count }
    var marketCount: Int { restaurantsOfMarket.count }

    /// Keeps `profile` unless the one held is as new or newer; whether it was kept.
    func update(_ profile: RestaurantProfile) -> Bool {
        if let held = profiles[profile.restaurantID], held.updatedAt_ms >= profile.updatedAt_ms { return false }
        if profiles.updateValue(profile, forKey: profile.restaurantID)?.marketID != profile.marketID {
            restaurantsOfMarket[profile.marketID, default: []].append(profile.restaurantID)
        }
        return true
    }

    /// Applies every profile of `market` to its state (a profile that moved to another
    /// market since is skipped; ones the state already has are refused as late).
    func apply(to market: MarketBox) {
        let id = market.state.marketID
        for restaurant in restaurantsOfMarket[id] ?? [] {
            if let profile = profiles[restaurant], profile.marketID == id { market.state.apply(profile) }
        }
    }
}
