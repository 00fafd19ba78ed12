/// One restaurant in a zone's ranking, compact enough to live in the lock-free board:
/// the restaurant is a `RankingBoard` directory index, every part is whole seconds.
/// delivery = max(queueWait + prep, courierArrival) + handoff + travel;
/// carry-out = queueWait + prep (the board stores the parts and derives the sums).
public struct RankedRestaurant: Hashable, Sendable {
    /// Index of the restaurant's id in the board's directory (`RankingBoard.identifier(at:)`).
    public var restaurant: Int32
    public var deliveryETA_s: Int32
    public var queueWait_s: Int32
    public var prep_s: Int32
    public var courierArrival_s: Int32
    public var handoff_s: Int32
    public var travel_s: Int32
    /// A carry-out order placed now is ready after this long (queue wait + prep).
    public var carryOutReady_s: Int32
    public var styles: PizzaStyles
    public var confidence: EstimateConfidence
    public var reason: EstimateReason?

    public init(restaurant: Int32, deliveryETA_s: Int32, queueWait_s: Int32, prep_s: Int32, courierArrival_s: Int32,
                handoff_s: Int32, travel_s: Int32, carryOutReady_s: Int32, styles: PizzaStyles,
                confidence: EstimateConfidence, reason: EstimateReason?) {
        self.restaurant = restaurant
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

    /// Words per entry on the board. Derived parts are not stored: carry-out is queue
    /// wait + prep, delivery follows from the parts, and hand-off is one per zone.
    @usableFromInline static var wordCount: Int { 3 }

    @usableFromInline @inline(__always)
    static func pack(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) | UInt64(UInt32(bitPattern: b)) << 32
    }

    @usableFromInline @inline(__always)
    static func unpack(_ word: UInt64) -> (Int32, Int32) {
        (Int32(bitPattern: UInt32(truncatingIfNeeded: word)), Int32(bitPattern: UInt32(truncatingIfNeeded: word >> 32)))
    }

    @usableFromInline var words: (UInt64, UInt64, UInt64) {
        let flags = UInt64(styles.rawValue) | UInt64(confidence.rawValue) << 16 | UInt64(reason.map { $0.rawValue + 1 } ?? 0) << 24
        return (UInt64(UInt32(bitPattern: restaurant)) | flags << 32, Self.pack(queueWait_s, prep_s),
                Self.pack(courierArrival_s, travel_s))
    }

    /// Whether the board can hold this entry as it is (its delivery and carry-out are
    /// those the model derives from its parts).
    public var isDerivable: Bool {
        carryOutReady_s == queueWait_s &+ prep_s
            && deliveryETA_s == max(carryOutReady_s, courierArrival_s) &+ handoff_s &+ travel_s
    }

    @inlinable @inline(__always)
    init(words w: (UInt64, UInt64, UInt64), handoff_s: Int32) {
        restaurant = Int32(bitPattern: UInt32(truncatingIfNeeded: w.0))
        let flags = w.0 >> 32
        styles = PizzaStyles(rawValue: UInt16(truncatingIfNeeded: flags))
        // Torn reads are discarded by the caller; never trap on one.
        confidence = EstimateConfidence(rawValue: UInt8(truncatingIfNeeded: flags >> 16)) ?? .low
        let reasonCode = UInt8(truncatingIfNeeded: flags >> 24)
        reason = reasonCode == 0 ? nil : EstimateReason(rawValue: reasonCode &- 1)
        (queueWait_s, prep_s) = Self.unpack(w.1)
        (courierArrival_s, travel_s) = Self.unpack(w.2)
        self.handoff_s = handoff_s
        carryOutReady_s = queueWait_s &+ prep_s
        deliveryETA_s = max(carryOutReady_s, courierArrival_s) &+ handoff_s &+ travel_s
    }
}
