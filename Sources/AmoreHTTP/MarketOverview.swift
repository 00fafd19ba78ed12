import AmoreCore

/// A market at a glance, for the live map (`GET /map`) and any other overview: the
/// markets this server holds rankings for, each zone's best ETA under a filter, and the
/// restaurants with their positions. Read from the lock-free board and the restaurant
/// directory; never touches the engine's thread.
///
/// `GET /v1/markets/{market}/zones?since_as_of_ms=T` lists only zones published at or
/// after event time T. A market's rankings are published with its event clock, which
/// never goes back, so a follower that passes the previous answer's `newest_as_of_ms`
/// misses no publication (it may see one twice: versions tell).
public enum MarketOverview {
    /// `GET /v1/markets/{market}/zones` parameters, parsed and checked.
    public struct ZonesQuery: Sendable, Equatable {
        public var market: Identifier
        public var style: PizzaStyles?
        public var mode: RankingQuery.Mode
        public var sinceAsOf_ms: Int64?

        public init(market: String, style: String?, mode: String?, sinceAsOf_ms: String?) throws(RankingQuery.Invalid) {
            guard let market = Identifier(validating: market) else {
                throw RankingQuery.Invalid(parameter: "market", message: "'\(market)' is not a market id (1 to 64 characters of A-Z a-z 0-9 . _ : -)")
            }
            self.market = market
            self.style = try RankingQuery.style(style)
            self.mode = try RankingQuery.mode(mode)
            if let sinceAsOf_ms {
                guard let parsed = Int64(sinceAsOf_ms), parsed >= 0 else {
                    throw RankingQuery.Invalid(parameter: "since_as_of_ms",
                                               message: "'\(sinceAsOf_ms)' is not a whole number of Unix milliseconds")
                }
                self.sinceAsOf_ms = parsed
            }
        }
    }

    /// What one zone offers under a filter.
    public struct ZoneSummary: Sendable, Equatable {
        public var zone: GeohashCell
        public var version: Int64
        public var asOf_ms: Int64
        /// The best delivery ETA (or carry-out ready time) among the entries that match
        /// the filter; nil when none does.
        public var best_s: Int32?
        /// Restaurants in the zone's ranking that match the filter.
        public var matching: Int
    }

    /// The market's zones as `query` filters them, with the newest as-of time of any
    /// of its zones (the cursor for the next `since_as_of_ms`); nil when the board holds
    /// no zone of the market.
    public static func zones(_ query: ZonesQuery, board: RankingBoard) -> (zones: [ZoneSummary], newestAsOf_ms: Int64)? {
        var snapshot = ZoneSnapshot()
        var summaries: [ZoneSummary] = []
        var newest: Int64?
        for zone in board.publishedZones() {
            guard board.read(zone, into: &snapshot), board.identifier(at: snapshot.market) == query.market else { continue }
            newest = max(newest ?? .min, snapshot.asOf_ms)
            if let since = query.sinceAsOf_ms, snapshot.asOf_ms < since { continue }
            var best: Int32?
            var matching = 0
            for entry in snapshot.entries {
                if let style = query.style, !entry.styles.contains(style) { continue }
                matching += 1
                let eta = query.mode == .delivery ? entry.deliveryETA_s : entry.carryOutReady_s
                // Entries are in delivery order: the first match is the fastest delivery.
                if best == nil || (query.mode == .carryOut && eta < best!) { best = eta }
            }
            summaries.append(ZoneSummary(zone: zone, version: snapshot.version, asOf_ms: snapshot.asOf_ms, best_s: best,
                                         matching: matching))
        }
        guard let newest else { return nil }
        return (summaries, newest)
    }

    /// `GET /v1/markets/{market}/zones` as JSON; nil when the market is unknown here.
    public static func zonesDocument(_ query: ZonesQuery, board: RankingBoard, zonePrecision: Int) -> [UInt8]? {
        guard let (zones, newest) = self.zones(query, board: board) else { return nil }
        var writer = JSONWriter(capacity: 256 + 90 * zones.count)
        writer.beginObject()
        writer.key("market_id"); writer.value(query.market)
        writer.key("zone_precision"); writer.value(zonePrecision)
        writer.key("mode"); writer.value(query.mode.rawValue)
        if let style = query.style {
            writer.key("style"); writer.value(style.members[0].name)
        }
        writer.key("newest_as_of_ms"); writer.value(newest)
        writer.key("zones")
        writer.beginArray()
        for zone in zones {
            writer.beginObject()
            writer.key("zone_id"); writer.value(zone.zone.description)
            writer.key("version"); writer.value(zone.version)
            writer.key("as_of_ms"); writer.value(zone.asOf_ms)
            writer.key("best_s")
            if let best = zone.best_s { writer.value(Int(best)) } else { writer.null() }
            writer.key("matching"); writer.value(zone.matching)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }

    /// `GET /v1/markets`: each market with rankings on this server, its zone count and
    /// newest as-of time, and how many restaurant profiles it has.
    public static func marketsDocument(board: RankingBoard, restaurants: RestaurantDirectory, zonePrecision: Int) -> [UInt8] {
        var zones: [Identifier: (count: Int, newest_ms: Int64)] = [:]
        var snapshot = ZoneSnapshot()
        for zone in board.publishedZones() where board.read(zone, limit: 0, into: &snapshot) {
            let market = board.identifier(at: snapshot.market)
            let held = zones[market] ?? (0, .min)
            zones[market] = (held.count + 1, max(held.newest_ms, snapshot.asOf_ms))
        }
        let restaurantCounts = restaurants.countsByMarket()
        var writer = JSONWriter(capacity: 256 + 128 * zones.count)
        writer.beginObject()
        writer.key("zone_precision"); writer.value(zonePrecision)
        writer.key("markets")
        writer.beginArray()
        for (market, held) in zones.sorted(by: { $0.key < $1.key }) {
            writer.beginObject()
            writer.key("market_id"); writer.value(market)
            writer.key("zones"); writer.value(held.count)
            writer.key("newest_as_of_ms"); writer.value(held.newest_ms)
            writer.key("restaurants"); writer.value(restaurantCounts[market] ?? 0)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }

    /// `GET /v1/markets/{market}/restaurants`: every profile of the market (open or not),
    /// with position and styles; nil when no profile names the market.
    public static func restaurantsDocument(market: Identifier, restaurants: RestaurantDirectory) -> [UInt8]? {
        let profiles = restaurants.restaurants(in: market)
        guard !profiles.isEmpty else { return nil }
        var writer = JSONWriter(capacity: 256 + 200 * profiles.count)
        writer.beginObject()
        writer.key("market_id"); writer.value(market)
        writer.key("restaurants")
        writer.beginArray()
        for profile in profiles {
            writer.beginObject()
            writer.key("restaurant_id"); writer.value(profile.restaurantID)
            writer.key("name"); writer.value(profile.name)
            writer.key("lat"); writer.value(profile.lat_deg)
            writer.key("lon"); writer.value(profile.lon_deg)
            writer.key("styles")
            writer.beginArray()
            for member in profile.styles.members { writer.value(member.name) }
            writer.endArray()
            writer.key("delivery_radius_m"); writer.value(profile.deliveryRadius_m)
            writer.key("is_open"); writer.value(profile.isOpen)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }
}
