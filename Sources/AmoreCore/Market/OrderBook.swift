/// What applying one event did to the market's state.
public enum ApplyOutcome: UInt8, Sendable, CaseIterable {
    /// The event moved the state forward.
    case applied
    /// The state already had it (same order stage again, same ping time, same profile).
    case duplicate
    /// Older than what the state already has (an earlier order stage after a later one,
    /// an older ping or profile); ignored so that late delivery cannot undo newer facts.
    case late
    /// Contradicts what is known (an order id seen at another restaurant); ignored.
    case conflicting
    /// Over a configured capacity of the market (see `MarketSettings`); ignored.
    case overCapacity
}

/// The order state machine, idempotent per order id:
/// placed → started → ready → picked_up, with cancelled possible until picked up.
/// An event at or behind the order's stage changes nothing; stages may be skipped
/// (an order first seen as `ready` was placed before this state began).
struct OrderBook {
    struct Order {
        var restaurant: Int32
        var stage: OrderEventType
        var started_ms: Int64?
        /// Event time of the newest stage (for retention).
        var updated_ms: Int64
    }

    /// The effect of an event on the restaurant's kitchen.
    struct Effect {
        var outcome: ApplyOutcome
        /// +1 when an order entered the kitchen, -1 when it left, else 0.
        var kitchenDelta: Int32 = 0
        /// started→ready duration, when this event completed one.
        var prepSample_ms: Int64?
    }

    var orders: [Identifier: Order] = [:]

    mutating func apply(_ event: OrderEvent, restaurant: Int32) -> Effect {
        let stage = event.type
        guard var order = orders[event.orderID] else {
            orders[event.orderID] = Order(restaurant: restaurant, stage: stage,
                                          started_ms: stage == .started ? event.eventTime_ms : nil,
                                          updated_ms: event.eventTime_ms)
            return Effect(outcome: .applied, kitchenDelta: stage.isInKitchen ? 1 : 0)
        }
        if order.restaurant != restaurant { return Effect(outcome: .conflicting) }
        if stage == order.stage { return Effect(outcome: .duplicate) }
        // Forward means a later stage, or a cancellation of an order not yet handed over.
        let forward = !order.stage.isFinal && (stage == .cancelled || stage.rawValue > order.stage.rawValue)
        guard forward else { return Effect(outcome: .late) }

        var effect = Effect(outcome: .applied)
        if order.stage.isInKitchen != stage.isInKitchen { effect.kitchenDelta = stage.isInKitchen ? 1 : -1 }
        if stage == .started { order.started_ms = event.eventTime_ms }
        if stage == .ready, order.stage == .started, let started = order.started_ms {
            effect.prepSample_ms = event.eventTime_ms - started
        }
        order.stage = stage
        order.updated_ms = max(order.updated_ms, event.eventTime_ms)
        orders[event.orderID] = order
        return effect
    }

    /// Forgets orders whose last event is older than `before_ms`; the restaurants of
    /// those still in a kitchen are returned so the kitchen stops counting them (an order
    /// abandoned without a final event must not hold a queue forever).
    mutating func forget(updatedBefore before_ms: Int64) -> (count: Int, leftKitchen: [Int32]) {
        var forgotten: [Identifier] = []
        var leftKitchen: [Int32] = []
        for (id, order) in orders where order.updated_ms < before_ms {
            forgotten.append(id)
            if order.stage.isInKitchen { leftKitchen.append(order.restaurant) }
        }
        for id in forgotten { orders.removeValue(forKey: id) }
        return (forgotten.count, leftKitchen)
    }

    var count: Int { orders.count }
}

/// An order's stage is the type of its newest event; the raw values run in stage order.
extension OrderEventType {
    /// Placed or started: the kitchen still has to make it.
    var isInKitchen: Bool { self == .placed || self == .started }
    var isFinal: Bool { self == .pickedUp || self == .cancelled }
}
