/// How a market turns events into rankings. The defaults are the product's.
public struct MarketSettings: Sendable, Equatable {
    public var eta = ETAModel()
    /// Geohash characters per zone (6: about 1.2 km × 0.6 km).
    public var zonePrecision = 6
    /// A courier that has not pinged for this long (event time) is not offered.
    public var courierStaleAfter_ms: Int64 = 60_000
    /// Rankings are brought up to date each time event time crosses a multiple of this.
    public var rankingResolution_ms: Int64 = 1_000
    /// A zone is republished when its order changes or any part of any entry moved by
    /// more than this since its last publication.
    public var materialChange_s: Int32 = 30
    /// A zone unchanged for this long (event time) is republished anyway.
    public var heartbeat_ms: Int64 = 60_000
    /// An order with no event for this long is forgotten (and leaves its kitchen's queue).
    public var orderRetention_ms: Int64 = 3 * 3_600_000
    /// A started→ready sample longer than this, or not positive, is not learned from.
    public var maxPrepSample_ms: Int64 = 4 * 3_600_000
    /// Restaurants per market: zone members hold a 16-bit restaurant index.
    public var maxRestaurants = 65_535
    public var maxCouriers = 1_000_000

    public init() {}
}

/// How many events of one kind had each outcome.
public struct OutcomeCounts: Sendable, Equatable {
    /// One count per `ApplyOutcome`, by raw value.
    var counts = [Int](repeating: 0, count: ApplyOutcome.allCases.count)

    public subscript(outcome: ApplyOutcome) -> Int {
        get { counts[Int(outcome.rawValue)] }
        set { counts[Int(outcome.rawValue)] = newValue }
    }

    public var total: Int { counts.reduce(0, +) }

    public init() {}
}

/// What a market has done, for metrics.
public struct MarketCounters: Sendable, Equatable {
    public var profiles = OutcomeCounts()
    public var orders = OutcomeCounts()
    public var pings = OutcomeCounts()
    /// started→ready durations learned from, and refused as implausible.
    public var prepSamples = 0
    public var implausiblePrepSamples = 0
    /// Orders forgotten after `orderRetention_ms` without news.
    public var forgottenOrders = 0
    /// Zone publications for a material change, and heartbeats.
    public var publications = 0
    public var heartbeats = 0
    /// Zones that found the board full (`RankingBoard.maxZones`) and went unpublished.
    public var zonesOverCapacity = 0

    public init() {}
}
