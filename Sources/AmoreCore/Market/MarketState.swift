#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One market's state (restaurants, their kitchens, couriers, zones), fed by events,
/// publishing zone rankings to a `RankingBoard`. Single writer: one partition's owner.
/// Non-copyable, so that there is one owner (the single writer) by construction, and a
/// value type, so that its methods work on its storage with static exclusivity (a class
/// pays a run-time access check per property access: measured 12 % of a replay).
///
/// Event time drives everything; nothing reads a clock, so the same events in the same
/// order give bit-identical rankings and versions. Events change the state at once;
/// rankings are brought up to date when event time crosses a multiple of
/// `rankingResolution_ms` (or on `refreshRankings(asOf_ms:)`), and then only where
/// something changed:
/// - each ranked restaurant's estimate is recomputed (kitchen plus a nearest-courier
///   search over a few grid cells) and *announced* to its zones only when its delivery
///   time or carry-out time changed, its confidence changed, or a part moved by more
///   than `materialChange_s`;
/// - an announcement moves the restaurant to its new place in each of its zones' orders
///   (the others stay sorted) and marks those zones;
/// - a marked zone is republished, versioned by its as-of time, only when its order changed
///   or an entry moved by more than `materialChange_s` since its last publication;
///   every zone is republished at least every `heartbeat_ms`.
public struct MarketState: ~Copyable {
    public let marketID: Identifier
    public let settings: MarketSettings
    public let board: RankingBoard
    public internal(set) var counters = MarketCounters()
    /// The newest order or ping event time applied; nil before the first.
    public internal(set) var clock_ms: Int64?
    /// The event time of the last ranking refresh.
    public internal(set) var rankingsAsOf_ms: Int64?

    /// Fields ordered by size so that a restaurant packs into 80 bytes.
    struct Restaurant {
        var lat_deg = 0.0
        var lon_deg = 0.0
        var prep_s = 0.0
        var updatedAt_ms: Int64 = .min
        var ovens: Int32 = 1
        var defaultPrep_s: Int32 = 0
        var deliveryRadius_m: Int32 = 0
        var boardIndex: Int32 = -1
        var ordersInKitchen: Int32 = 0
        /// For the courier search's flat distances (a Float is ample for a cosine).
        var cosLat: Float = 1
        /// What its zones rank it by; set while it is ranked.
        var announced = RestaurantEstimate(queueWait_s: 0, prep_s: 0, courierArrival_s: 0, handoff_s: 0, reason: nil)
        var styles = PizzaStyles()
        var hasProfile = false
        var isOpen = false
        var prepSeeded = false
        var prepLearned = false

        var isRanked: Bool { hasProfile && isOpen }
    }

    struct Zone {
        /// The cell's geohash bits (the precision is the market's).
        let cellBits: UInt64
        /// restaurant index (low 16 bits) | travel_s (high 16), fastest first by announced estimates.
        var members: [UInt32] = []
        var version: Int64 = 0
        /// `.min` before the first publication.
        var publishedAt_ms: Int64 = .min
        var isMarked = false
    }

    var restaurantIndices = IdentifierIndex()
    var restaurants: [Restaurant] = []
    /// The zones each restaurant is ranked in (empty while closed or without a profile);
    /// apart from `restaurants` so that copying a restaurant copies plain values.
    var restaurantZones: [ZoneList] = []
    var orders = OrderBook()
    var couriers = CourierIndex()
    var zones: [Zone] = []
    var zoneIndices: [UInt64: Int32] = [:]
    var markedZones: [Int32] = []
    private var published: [GeohashCell] = []
    let boardMarket: Int32
    var nextSweep_ms: Int64 = .min
    // Reused scratch space for publishing.
    private var candidate: [RankedRestaurant] = []
    private var current = ZoneSnapshot()

    private static let sweepInterval_ms: Int64 = 60_000

    public init(marketID: Identifier, board: RankingBoard, settings: MarketSettings = MarketSettings()) {
        precondition(settings.maxRestaurants <= 65_535, "zone members hold a 16-bit restaurant index")
        precondition((0...65_535).contains(settings.eta.handoff_s), "the board holds a 16-bit hand-off time")
        self.marketID = marketID
        self.board = board
        self.settings = settings
        guard let market = board.register(marketID) else { preconditionFailure("the board's directory is full") }
        boardMarket = market
    }

    // MARK: Events

    /// Applies a restaurant profile. A profile older than the one held is late; a
    /// profile does not move event time (profiles are a table, not a stream of time).
    @discardableResult
    public mutating func apply(_ profile: RestaurantProfile) -> ApplyOutcome {
        let outcome = applyProfile(profile)
        counters.profiles[outcome] += 1
        return outcome
    }

    @discardableResult
    public mutating func apply(_ event: OrderEvent) -> ApplyOutcome {
        advanceClock(to: event.eventTime_ms)
        let outcome = applyOrder(event)
        counters.orders[outcome] += 1
        return outcome
    }

    @discardableResult
    public mutating func apply(_ ping: CourierPing) -> ApplyOutcome {
        advanceClock(to: ping.eventTime_ms)
        let outcome = couriers.apply(ping, capacity: settings.maxCouriers)
        counters.pings[outcome] += 1
        return outcome
    }

    /// Brings the rankings up to date as of `asOf_ms` (the engine calls this when its
    /// input goes quiet; events call it themselves at each resolution step).
    public mutating func refreshRankings(asOf_ms: Int64) {
        if let last = rankingsAsOf_ms, asOf_ms <= last { return }
        rankingsAsOf_ms = asOf_ms
        if asOf_ms >= nextSweep_ms {
            nextSweep_ms = asOf_ms + Self.sweepInterval_ms
            sweep(now_ms: asOf_ms)
        }
        for index in restaurants.indices where restaurants[index].isRanked {
            announceIfChanged(index, estimate: estimate(index, now_ms: asOf_ms))
        }
        for zone in markedZones { publish(zone, asOf_ms: asOf_ms, heartbeat: false) }
        markedZones.removeAll(keepingCapacity: true)
        for zone in zones.indices {
            let last = zones[zone].publishedAt_ms
            if last != .min, asOf_ms - last >= settings.heartbeat_ms {
                publish(Int32(zone), asOf_ms: asOf_ms, heartbeat: true)
            }
        }
    }

    /// Whether zones were published since the last `takePublishedZones()`.
    public var hasPublishedZones: Bool { !published.isEmpty }

    /// The zones published since the last call, in publication order (each once per
    /// publication); their rankings are on the board.
    public mutating func takePublishedZones() -> [GeohashCell] {
        guard !published.isEmpty else { return [] }
        defer { published = [] }
        return published
    }

    // MARK: Queries (the writer's thread)

    /// A restaurant's estimate as its zones rank it; nil unless it is ranked.
    public func estimate(of restaurantID: Identifier) -> RestaurantEstimate? {
        guard let index = restaurantIndices.number(of: restaurantID), restaurants[Int(index)].isRanked else { return nil }
        return restaurants[Int(index)].announced
    }

    /// The zones a restaurant is ranked in.
    public func zones(of restaurantID: Identifier) -> [GeohashCell] {
        guard let index = restaurantIndices.number(of: restaurantID) else { return [] }
        return restaurantZones[Int(index)].map { cell(of: zones[Int($0)]) }
    }

    public var restaurantCount: Int { restaurants.count }
    public var courierCount: Int { couriers.count }
    public var zoneCount: Int { zones.count }
    /// Orders remembered: open ones and finished ones kept to recognise late events.
    public var trackedOrderCount: Int { orders.count }

    // MARK: Applying

    private mutating func advanceClock(to time_ms: Int64) {
        guard let clock = clock_ms else {
            clock_ms = time_ms
            return
        }
        guard time_ms > clock else { return }
        let step = settings.rankingResolution_ms
        let boundary = time_ms - ((time_ms % step) + step) % step
        if boundary > clock { refreshRankings(asOf_ms: boundary) }
        clock_ms = time_ms
    }

    private mutating func restaurantIndex(_ id: Identifier) -> Int? {
        if let index = restaurantIndices.number(of: id) { return Int(index) }
        guard restaurants.count < settings.maxRestaurants else { return nil }
        _ = restaurantIndices.add(id)
        restaurants.append(Restaurant())
        restaurantZones.append(ZoneList())
        return restaurants.count - 1
    }

    private mutating func applyProfile(_ profile: RestaurantProfile) -> ApplyOutcome {
        guard let index = restaurantIndex(profile.restaurantID) else { return .overCapacity }
        let old = restaurants[index]
        if old.hasProfile {
            if profile.updatedAt_ms < old.updatedAt_ms { return .late }
            if profile.updatedAt_ms == old.updatedAt_ms { return .duplicate }
        }
        guard let boardIndex = board.register(profile.restaurantID) else { return .overCapacity }
        var new = old
        new.hasProfile = true
        new.boardIndex = boardIndex
        new.lat_deg = profile.lat_deg
        new.lon_deg = profile.lon_deg
        new.cosLat = Float(cos(profile.lat_deg * Double.pi / 180))
        new.styles = profile.styles
        new.ovens = Int32(clamping: max(1, profile.ovens))
        new.defaultPrep_s = Int32(clamping: profile.defaultPrep_s)
        new.deliveryRadius_m = Int32(clamping: profile.deliveryRadius_m)
        new.isOpen = profile.isOpen
        new.updatedAt_ms = profile.updatedAt_ms
        if !new.prepLearned {
            new.prep_s = Double(new.defaultPrep_s)
            new.prepSeeded = true
        }
        let moved = old.lat_deg != new.lat_deg || old.lon_deg != new.lon_deg || old.deliveryRadius_m != new.deliveryRadius_m
        restaurants[index] = new
        if old.isRanked && (!new.isRanked || moved) { leaveZones(index) }
        if new.isRanked && (!old.isRanked || moved) {
            restaurants[index].announced = estimate(index, now_ms: rankingsAsOf_ms ?? clock_ms ?? profile.updatedAt_ms)
            joinZones(index)
        } else if new.isRanked {
            // Styles, ovens or the default prep may have changed: recheck at the next refresh,
            // and show new styles even if no time moved.
            if old.styles != new.styles { for zone in restaurantZones[index] { mark(zone) } }
        }
        return .applied
    }

    private mutating func applyOrder(_ event: OrderEvent) -> ApplyOutcome {
        guard let index = restaurantIndex(event.restaurantID) else { return .overCapacity }
        let effect = orders.apply(event, restaurant: Int32(index))
        guard effect.outcome == .applied else { return effect.outcome }
        restaurants[index].ordersInKitchen += effect.kitchenDelta
        if let sample_ms = effect.prepSample_ms {
            if sample_ms > 0 && sample_ms <= settings.maxPrepSample_ms {
                learnPrep(index, sample_s: Double(sample_ms) / 1000)
                counters.prepSamples += 1
            } else {
                counters.implausiblePrepSamples += 1
            }
        }
        return .applied
    }

    private mutating func learnPrep(_ index: Int, sample_s: Double) {
        var restaurant = restaurants[index]
        if restaurant.prepSeeded {
            restaurant.prep_s += settings.eta.prepSmoothing * (sample_s - restaurant.prep_s)
        } else {
            restaurant.prep_s = sample_s
            restaurant.prepSeeded = true
        }
        restaurant.prepLearned = true
        restaurants[index] = restaurant
    }

    private mutating func sweep(now_ms: Int64) {
        couriers.removeStale(lastPingBefore: now_ms - settings.courierStaleAfter_ms)
        let forgotten = orders.forget(updatedBefore: now_ms - settings.orderRetention_ms)
        counters.forgottenOrders += forgotten.count
        for restaurant in forgotten.leftKitchen { restaurants[Int(restaurant)].ordersInKitchen -= 1 }
    }

    // MARK: Estimates and zones

    private func estimate(_ index: Int, now_ms: Int64) -> RestaurantEstimate {
        let restaurant = restaurants[index]
        let courier_m = couriers.nearestAvailable(
            lat_deg: restaurant.lat_deg, lon_deg: restaurant.lon_deg, cosLat: Double(restaurant.cosLat),
            within: settings.eta.courierSearchRadius_m, freshSince_ms: now_ms - settings.courierStaleAfter_ms)
        return settings.eta.estimate(ordersAhead: Int(restaurant.ordersInKitchen), ovens: Int(restaurant.ovens),
                                     prep_s: restaurant.prep_s, prepLearned: restaurant.prepLearned,
                                     courierDistance_m: courier_m)
    }

    private mutating func announceIfChanged(_ index: Int, estimate new: RestaurantEstimate) {
        let old = restaurants[index].announced
        let threshold = settings.materialChange_s
        let changed = new.deliveryBeforeTravel_s != old.deliveryBeforeTravel_s
            || new.carryOutReady_s != old.carryOutReady_s
            || new.reason != old.reason
            || abs(new.queueWait_s - old.queueWait_s) > threshold
            || abs(new.prep_s - old.prep_s) > threshold
            || abs(new.courierArrival_s - old.courierArrival_s) > threshold
        guard changed else { return }
        restaurants[index].announced = new
        for zone in restaurantZones[index] { reposition(index, in: Int(zone)) }
    }

    /// Zones whose centre lies within the restaurant's delivery radius, with the travel
    /// time to each; zones are created on first use.
    private mutating func joinZones(_ index: Int) {
        let restaurant = restaurants[index]
        let radius_m = Double(restaurant.deliveryRadius_m)
        var joined: [Int32] = []
        Self.forEachCellCentre(lat_deg: restaurant.lat_deg, lon_deg: restaurant.lon_deg, radius_m: radius_m,
                               precision: settings.zonePrecision) { lat, lon in
            let distance_m = greatCircleDistance_m(lat1_deg: restaurant.lat_deg, lon1_deg: restaurant.lon_deg,
                                                   lat2_deg: lat, lon2_deg: lon)
            guard distance_m <= radius_m else { return }
            let cell = GeohashCell(lat_deg: lat, lon_deg: lon, precision: settings.zonePrecision)
            let zone: Int32
            if let known = zoneIndices[cell.bits] {
                zone = known
            } else {
                zone = Int32(zones.count)
                zones.append(Zone(cellBits: cell.bits))
                zoneIndices[cell.bits] = zone
            }
            let travel = UInt32(min(65_535, settings.eta.travel_s(distance_m: distance_m)))
            if Self.insertInPlace(UInt32(index) | travel << 16, &zones[Int(zone)].members, restaurants, board) { mark(zone) }
            joined.append(zone)
        }
        restaurantZones[index] = ZoneList(joined)
        // Members grow one restaurant at a time; give back the slack of doubling.
        for zone in joined where zones[Int(zone)].members.capacity > zones[Int(zone)].members.count + 4 {
            let members = zones[Int(zone)].members
            zones[Int(zone)].members = Array(unsafeUninitializedCapacity: members.count) { buffer, count in
                count = buffer.initialize(fromContentsOf: members)
            }
        }
    }

    private mutating func leaveZones(_ index: Int) {
        for zone in restaurantZones[index] {
            zones[Int(zone)].members.removeAll { Int($0 & 0xFFFF) == index }
            mark(zone)
        }
        restaurantZones[index] = ZoneList()
    }

    /// Calls `body` with the centre of every zone cell that may lie within `radius_m`.
    private static func forEachCellCentre(lat_deg: Double, lon_deg: Double, radius_m: Double, precision: Int,
                                          _ body: (Double, Double) -> Void) {
        let latBits = 5 * precision / 2
        let lonBits = 5 * precision - latBits
        let cellHeight_deg = 180 / Double(1 << latBits)
        let cellWidth_deg = 360 / Double(1 << lonBits)
        let reachLat_deg = radius_m / Earth.metresPerDegree
        let latMin = max(-90, lat_deg - reachLat_deg)
        let latMax = min(90, lat_deg + reachLat_deg)
        let widestCos = cos(max(abs(latMin), abs(latMax)) * Double.pi / 180)
        let reachLon_deg = min(180, radius_m / (Earth.metresPerDegree * max(widestCos, 1e-9)))
        let rows = Int(((latMin + 90) / cellHeight_deg).rounded(.down))...Int(((latMax + 90) / cellHeight_deg).rounded(.down))
        let columnCount = 1 << lonBits
        let firstColumn = Int(((lon_deg - reachLon_deg + 180) / cellWidth_deg).rounded(.down))
        let lastColumn = min(firstColumn + columnCount - 1, Int(((lon_deg + reachLon_deg + 180) / cellWidth_deg).rounded(.down)))
        for row in rows where row < 1 << latBits {
            let lat = -90 + (Double(row) + 0.5) * cellHeight_deg
            for column in firstColumn...lastColumn {
                let wrapped = ((column % columnCount) + columnCount) % columnCount
                body(lat, -180 + (Double(wrapped) + 0.5) * cellWidth_deg)
            }
        }
    }

    func cell(of zone: Zone) -> GeohashCell { GeohashCell(bits: zone.cellBits, precision: settings.zonePrecision) }

    mutating func mark(_ zone: Int32) {
        guard !zones[Int(zone)].isMarked else { return }
        zones[Int(zone)].isMarked = true
        markedZones.append(zone)
    }

    /// Moves the restaurant to its place in the zone's order after its announced
    /// estimate changed; everything else in the zone is still in order. The zone is
    /// marked for a publication check only when the restaurant was or is among the
    /// entries published (a move among the ones below leaves those as they were).
    private mutating func reposition(_ index: Int, in zone: Int) {
        // The zone's members are changed in place while the restaurants are read: two
        // stored properties, so no copy and no reference counting.
        if Self.moveIntoPlace(index, &zones[zone].members, restaurants, board) { mark(Int32(zone)) }
    }

    /// Whether the restaurant was or is among the first `board.maxEntriesPerZone`.
    private static func moveIntoPlace(_ index: Int, _ members: inout [UInt32], _ restaurants: [Restaurant],
                                      _ board: RankingBoard) -> Bool {
        restaurants.withUnsafeBufferPointer { restaurants in
            members.withUnsafeMutableBufferPointer { members in
                guard var position = members.firstIndex(where: { Int($0 & 0xFFFF) == index }) else { return true }
                let start = position
                let moving = members[position]
                while position > 0 && precedes(moving, members[position - 1], restaurants, board) {
                    members[position] = members[position - 1]
                    position -= 1
                }
                while position + 1 < members.count && precedes(members[position + 1], moving, restaurants, board) {
                    members[position] = members[position + 1]
                    position += 1
                }
                members[position] = moving
                return min(start, position) < board.maxEntriesPerZone
            }
        }
    }

    /// Inserts a new member where the order puts it (a binary search: a market's first
    /// profiles join hundreds of zones each); whether it is among the entries published.
    private static func insertInPlace(_ member: UInt32, _ members: inout [UInt32], _ restaurants: [Restaurant],
                                      _ board: RankingBoard) -> Bool {
        var low = 0, high = members.count
        restaurants.withUnsafeBufferPointer { restaurants in
            while low < high {
                let middle = (low + high) / 2
                if precedes(members[middle], member, restaurants, board) { low = middle + 1 } else { high = middle }
            }
        }
        members.insert(member, at: low)
        return low < board.maxEntriesPerZone
    }

    /// Ranking order: delivery ETA, then carry-out time, then restaurant id, so that ties
    /// break the same way on every instance.
    private static func precedes(_ a: UInt32, _ b: UInt32, _ restaurants: UnsafeBufferPointer<Restaurant>,
                                 _ board: RankingBoard) -> Bool {
        let first = restaurants[Int(a & 0xFFFF)]
        let second = restaurants[Int(b & 0xFFFF)]
        let deliveryA = first.announced.deliveryBeforeTravel_s + Int32(a >> 16)
        let deliveryB = second.announced.deliveryBeforeTravel_s + Int32(b >> 16)
        if deliveryA != deliveryB { return deliveryA < deliveryB }
        let carryA = first.announced.carryOutReady_s
        let carryB = second.announced.carryOutReady_s
        if carryA != carryB { return carryA < carryB }
        return board.identifier(at: first.boardIndex) < board.identifier(at: second.boardIndex)
    }

    private mutating func publish(_ zoneIndex: Int32, asOf_ms: Int64, heartbeat: Bool) {
        var zone = zones[Int(zoneIndex)]
        zone.isMarked = false
        candidate.removeAll(keepingCapacity: true)
        for member in zone.members.prefix(board.maxEntriesPerZone) {
            let restaurant = restaurants[Int(member & 0xFFFF)]
            candidate.append(restaurant.announced.entry(restaurant: restaurant.boardIndex, travel_s: Int32(member >> 16),
                                                        styles: restaurant.styles))
        }
        let cell = cell(of: zone)
        // What this state published last is on the board (the board may also hold what an
        // earlier owner of the market published: a rebuilt state decides on its own).
        let isNew = zone.publishedAt_ms == .min
        guard heartbeat || isNew || !board.read(cell, into: &current) || differsMaterially(candidate, current.entries) else {
            zones[Int(zoneIndex)] = zone
            return
        }
        // The version is the event time published: strictly increasing per zone (refreshes
        // move forward), and the same however many refreshes came before, so a state
        // rebuilt by replay, or one that refreshed early on idle input, never reuses or
        // goes below a version already published.
        let accepted = candidate.withUnsafeBufferPointer {
            board.publish(cell, market: boardMarket, version: asOf_ms, asOf_ms: asOf_ms, entries: $0)
        }
        if accepted {
            zone.version = asOf_ms
            zone.publishedAt_ms = asOf_ms
            published.append(cell)
            if heartbeat { counters.heartbeats += 1 } else { counters.publications += 1 }
        } else {
            counters.zonesOverCapacity += 1
        }
        zones[Int(zoneIndex)] = zone
    }

    private func differsMaterially(_ new: [RankedRestaurant], _ old: ZoneSnapshot.Entries) -> Bool {
        guard new.count == old.count else { return true }
        let threshold = settings.materialChange_s
        for (a, b) in zip(new, old) {
            if a.restaurant != b.restaurant || a.styles != b.styles || a.reason != b.reason { return true }
            if abs(a.deliveryETA_s - b.deliveryETA_s) > threshold || abs(a.carryOutReady_s - b.carryOutReady_s) > threshold
                || abs(a.queueWait_s - b.queueWait_s) > threshold || abs(a.prep_s - b.prep_s) > threshold
                || abs(a.courierArrival_s - b.courierArrival_s) > threshold || a.travel_s != b.travel_s {
                return true
            }
        }
        return false
    }
}
