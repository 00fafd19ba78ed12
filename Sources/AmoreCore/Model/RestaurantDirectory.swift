import Synchronization

/// The newest profile of every restaurant, for readers off the hot path (the map's
/// restaurant dots, names beside ranked ids). One writer (whoever reads the profiles
/// topic) replaces profiles; any thread lists a market's. A mutex is enough here: a
/// profile changes a few times a day and a listing is one per map load, against
/// millions of ranking reads that never come here.
public final class RestaurantDirectory: Sendable {
    private let profiles = Mutex<[Identifier: RestaurantProfile]>([:])

    public init() {}

    /// Keeps `profile` unless a profile at least as new is held.
    public func update(_ profile: RestaurantProfile) {
        profiles.withLock { held in
            if let old = held[profile.restaurantID], old.updatedAt_ms >= profile.updatedAt_ms { return }
            held[profile.restaurantID] = profile
        }
    }

    /// The market's restaurants, ordered by id.
    public func restaurants(in market: Identifier) -> [RestaurantProfile] {
        profiles.withLock { held in held.values.filter { $0.marketID == market } }
            .sorted { $0.restaurantID.description < $1.restaurantID.description }
    }

    /// Restaurants per market.
    public func countsByMarket() -> [Identifier: Int] {
        profiles.withLock { held in
            var counts: [Identifier: Int] = [:]
            for profile in held.values { counts[profile.marketID, default: 0] += 1 }
            return counts
        }
    }
}
