/// The delivery ETA model: deterministic, explainable, from event-derived facts only.
///
///     queue wait   = ⌊orders ahead / ovens⌋ × prep
///     prep         = EWMA of the restaurant's started→ready times (α = `prepSmoothing`),
///                    seeded by the profile's default prep time
///     courier      = distance of the nearest available, non-stale courier / courier speed,
///                    or `courierFallback_s` when none is within `courierSearchRadius_m`
///     travel       = great-circle distance restaurant → zone centre / courier speed
///     delivery ETA = max(queue wait + prep, courier arrival) + hand-off + travel
///     carry-out    = queue wait + prep
///
/// Orders ahead are the restaurant's orders placed or started and not yet ready,
/// cancelled or picked up; with `ovens` of them cooking at once, a new order starts
/// after ⌊ahead / ovens⌋ full prep times (cooking orders count as whole preps: simple
/// and on the safe side). The courier speed is a straight-line speed, so it includes
/// the detour of real streets. Every part is rounded to whole seconds.
///
/// Confidence is low, with a reason, when a part fell back to a default: no courier
/// nearby (reason `no_courier_nearby`, which wins when both apply), or no prep time
/// learned yet (`prep_time_from_profile`).
///
/// Worked example (README "ETA model"): 2 ovens, 3 orders ahead, learned prep 600 s
/// → queue wait ⌊3/2⌋ × 600 = 600 s, carry-out 1,200 s. Nearest courier 800 m away
/// at 4 m/s → 200 s. Zone centre 2,000 m away → travel 500 s. Delivery =
/// max(1,200, 200) + 120 + 500 = 1,820 s.
public struct ETAModel: Sendable, Equatable {
    /// Straight-line speed of a courier, detours included.
    public var courierSpeed_mps: Double = 4.0
    /// Courier at the door, pizza in hand, to pizza at the customer's door, less travel
    /// (0...65,535 s).
    public var handoff_s: Int32 = 120
    /// How far to look for an available courier.
    public var courierSearchRadius_m: Double = 5_000
    /// Courier arrival assumed when none is available within the search radius.
    public var courierFallback_s: Int32 = 900
    /// Weight of the newest started→ready sample in the learned prep time.
    public var prepSmoothing: Double = 0.2

    public init() {}

    /// The cap on any part, so that sums stay far inside `Int32`.
    public static let maxPart_s: Int32 = 1_000_000

    /// The parts of a restaurant's ETA that do not depend on the zone.
    public func estimate(ordersAhead: Int, ovens: Int, prep_s: Double, prepLearned: Bool,
                         courierDistance_m: Double?) -> RestaurantEstimate {
        let prep = Int32(min(Double(Self.maxPart_s), prep_s.rounded()))
        // A flood of orders must not overflow: any part is capped (at ~11.6 days).
        let queueWait = Int32(min(Int64(Self.maxPart_s), Int64(ordersAhead / max(1, ovens)) * Int64(prep)))
        let arrival = courierDistance_m.map { travel_s(distance_m: $0) } ?? courierFallback_s
        let reason: EstimateReason? = courierDistance_m == nil ? .noCourierNearby : (prepLearned ? nil : .prepTimeFromProfile)
        return RestaurantEstimate(queueWait_s: queueWait, prep_s: prep, courierArrival_s: arrival, handoff_s: handoff_s,
                                  reason: reason)
    }

    /// Travel time over `distance_m` at courier speed.
    public func travel_s(distance_m: Double) -> Int32 {
        Int32(min(Double(Self.maxPart_s), (distance_m / courierSpeed_mps).rounded()))
    }
}

/// A restaurant's ETA parts before travel to a particular zone.
public struct RestaurantEstimate: Sendable, Equatable {
    public var queueWait_s: Int32
    public var prep_s: Int32
    public var courierArrival_s: Int32
    public var handoff_s: Int32
    public var reason: EstimateReason?

    public var carryOutReady_s: Int32 { queueWait_s + prep_s }
    /// Delivery ETA less the travel to the zone.
    public var deliveryBeforeTravel_s: Int32 { max(carryOutReady_s, courierArrival_s) + handoff_s }
    public var confidence: EstimateConfidence { reason == nil ? .high : .low }

    public init(queueWait_s: Int32, prep_s: Int32, courierArrival_s: Int32, handoff_s: Int32, reason: EstimateReason?) {
        self.queueWait_s = queueWait_s
        self.prep_s = prep_s
        self.courierArrival_s = courierArrival_s
        self.handoff_s = handoff_s
        self.reason = reason
    }

    /// The restaurant's entry in a zone `travel_s` away.
    public func entry(restaurant: Int32, travel_s: Int32, styles: PizzaStyles) -> RankedRestaurant {
        RankedRestaurant(restaurant: restaurant, deliveryETA_s: deliveryBeforeTravel_s + travel_s, queueWait_s: queueWait_s,
                         prep_s: prep_s, courierArrival_s: courierArrival_s, handoff_s: handoff_s, travel_s: travel_s,
                         carryOutReady_s: carryOutReady_s, styles: styles, confidence: confidence, reason: reason)
    }
}
