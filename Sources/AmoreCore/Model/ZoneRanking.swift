/// How sure an estimate is, and why not when it is not.
public enum EstimateConfidence: UInt8, Sendable, CaseIterable {
    case high, low
    public static let names: [StaticString] = ["high", "low"]
    public var name: StaticString { Self.names[Int(rawValue)] }
}

/// What was missing when an estimate fell back to a default.
public enum EstimateReason: UInt8, Sendable, CaseIterable {
    case noCourierNearby, prepTimeFromProfile
    public static let names: [StaticString] = ["no_courier_nearby", "prep_time_from_profile"]
    public var name: StaticString { Self.names[Int(rawValue)] }
}

/// One restaurant in a zone's ranking, with the parts of its delivery ETA.
/// delivery = max(queueWait + prep, courierArrival) + handoff + travel.
public struct RankingEntry: Hashable, Sendable {
    public var restaurantID: Identifier
    public var deliveryETA_s: Int32
    public var queueWait_s: Int32
    public var prep_s: Int32
    public var courierArrival_s: Int32
    public var handoff_s: Int32
    public var travel_s: Int32
    /// When a carry-out order placed now would be ready (queue wait + prep).
    public var carryOutReady_s: Int32
    public var styles: PizzaStyles
    public var confidence: EstimateConfidence
    public var reason: EstimateReason?

    public init(restaurantID: Identifier, deliveryETA_s: Int32, queueWait_s: Int32, prep_s: Int32, courierArrival_s: Int32,
                handoff_s: Int32, travel_s: Int32, carryOutReady_s: Int32, styles: PizzaStyles,
                confidence: EstimateConfidence, reason: EstimateReason? = nil) {
        self.restaurantID = restaurantID
        self.deliveryETA_s = deliveryETA_s
        self.queueWait_s = queueWait_s
        self.prep_s = prep_s
        self.courierArrival_s = courierArrival_s
        self.handoff_s = handoff_s
        self.travel_s = travel_s
        self.carryOutReady_s = carryOutReady_s
        self.styles = styles
        self.confidence = confidence
        self.reason = reason
    }
}

/// A zone's published ranking (topic `amore.rankings`, key = zone id).
public struct ZoneRanking: Hashable, Sendable {
    /// The zone's geohash.
    public var zoneID: String
    public var marketID: Identifier
    /// Strictly increasing per zone.
    public var version: Int64
    /// The event time the ranking reflects.
    public var asOf_ms: Int64
    /// Ordered by delivery ETA, fastest first.
    public var entries: [RankingEntry]

    public init(zoneID: String, marketID: Identifier, version: Int64, asOf_ms: Int64, entries: [RankingEntry]) {
        self.zoneID = zoneID
        self.marketID = marketID
        self.version = version
        self.asOf_ms = asOf_ms
        self.entries = entries
    }
}

extension ZoneRanking {
    /// The published form of a zone's ranking as read from `board`.
    public init(zone: GeohashCell, snapshot: ZoneSnapshot, board: RankingBoard) {
        self.init(zoneID: zone.description, marketID: board.identifier(at: snapshot.market), version: snapshot.version,
                  asOf_ms: snapshot.asOf_ms, entries: snapshot.entries.map { entry in
                      RankingEntry(restaurantID: board.identifier(at: entry.restaurant), deliveryETA_s: entry.deliveryETA_s,
                                   queueWait_s: entry.queueWait_s, prep_s: entry.prep_s, courierArrival_s: entry.courierArrival_s,
                                   handoff_s: entry.handoff_s, travel_s: entry.travel_s, carryOutReady_s: entry.carryOutReady_s,
                                   styles: entry.styles, confidence: entry.confidence, reason: entry.reason)
                  })
    }
}
