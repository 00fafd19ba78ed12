import AmoreCore
import DequeModule

/// One input event decoded and waiting for its turn in the merge.
struct PendingEvent {
    enum Payload {
        /// Boxed: an order event (four identifiers) is twice a ping's size, and pings are
        /// nearly every event; unboxed, every ping would be copied at an order's size.
        indirect case order(OrderEvent)
        case ping(CourierPing)
    }

    var payload: Payload
    var offset: Int64
    /// The record's timestamp (CreateTime): where the event-to-publication delay starts.
    var createTime_ms: Int64

    var eventTime_ms: Int64 {
        switch payload {
        case .order(let event): event.eventTime_ms
        case .ping(let ping): ping.eventTime_ms
        }
    }

    var marketID: Identifier {
        switch payload {
        case .order(let event): event.marketID
        case .ping(let ping): ping.marketID
        }
    }
}

/// A market's state in a box, so that a dictionary can hold it (`MarketState` is
/// non-copyable). Touched by the engine thread only.
final class MarketBox {
    var state: MarketState

    init(_ state: consuming MarketState) {
        self.state = state
    }

    func withState<R>(_ body: (inout MarketState) throws -> R) rethrows -> R {
        try body(&state)
    }
}

/// Partition N of the orders topic and partition N of the couriers topic: the markets
/// keyed to N, owned by one instance and written by one thread.
///
/// The two partitions are separate logs, so the order in which their records are fetched
/// depends on timing. To make rankings depend on the input alone, events are merged by
/// event time: the head of one side is applied only when the other side has an event at
/// least as late buffered, or has been read to its end (it cannot be holding back an
/// earlier one). An idle side that has been read to its end therefore never stalls the
/// other (the delay stays small when a partition goes quiet); replaying input that is
/// already in Kafka always gives the same order.
final class PartitionPair {
    struct Side {
        var events = Deque<PendingEvent>()
        /// The offset after the last record fetched; nil before the first.
        var nextOffset: Int64?
        /// Records before this offset were processed before (committed): they are
        /// replayed to rebuild state, without publishing or dead-lettering again.
        var replayEnd: Int64 = 0
        /// False when this instance was not assigned this side (it then holds nothing back).
        var isAssigned = false

        /// The first offset not yet applied: where a restart must resume.
        var resumeOffset: Int64? {
            if let first = events.first { return max(first.offset, replayEnd) }
            if let nextOffset { return max(nextOffset, replayEnd) }
            return replayEnd > 0 ? replayEnd : nil
        }
    }

    enum SideName { case orders, couriers }

    let partition: Int32
    var orders = Side()
    var couriers = Side()
    var markets: [Identifier: MarketBox] = [:]
    /// Wall clock (ns, monotonic) of the last record fetched for either side.
    var lastInput_ns: UInt64 = 0
    /// Whether events were applied since the last idle refresh.
    var hasUnrefreshedEvents = false
    /// The CreateTime of the last event applied (for the delay of an idle refresh).
    var lastCreateTime_ms: Int64 = 0
    /// Zones republished while catching up, not sent yet (each once, in first-change order).
    var deferredZones: [GeohashCell] = []
    var deferredSet: Set<GeohashCell> = []

    func deferPublication(of zones: [GeohashCell]) {
        for zone in zones where deferredSet.insert(zone).inserted { deferredZones.append(zone) }
    }

    func takeDeferredZones() -> [GeohashCell] {
        defer {
            deferredZones.removeAll(keepingCapacity: true)
            deferredSet.removeAll(keepingCapacity: true)
        }
        return deferredZones
    }

    init(partition: Int32) {
        self.partition = partition
    }

    subscript(side: SideName) -> Side {
        get { side == .orders ? orders : couriers }
        _modify {
            if side == .orders { yield &orders } else { yield &couriers }
        }
    }

    /// Takes the next event in event-time order, or nil when the merge must wait.
    /// `isReadToEnd(side)` says whether a side with nothing buffered has been fetched to
    /// its partition's end.
    func next(isReadToEnd: (SideName) -> Bool) -> (event: PendingEvent, side: SideName)? {
        // Only the heads' times are read in place: an event is a few hundred bytes, and
        // copying both heads per event showed in profiles.
        switch (Self.headTime_ms(orders.events), Self.headTime_ms(couriers.events)) {
        case let (order?, ping?):
            // Ties go to orders: a deterministic rule, any one would do.
            return order <= ping
                ? (orders.events.removeFirst(), .orders) : (couriers.events.removeFirst(), .couriers)
        case (.some, nil):
            guard !couriers.isAssigned || isReadToEnd(.couriers) else { return nil }
            return (orders.events.removeFirst(), .orders)
        case (nil, .some):
            guard !orders.isAssigned || isReadToEnd(.orders) else { return nil }
            return (couriers.events.removeFirst(), .couriers)
        case (nil, nil):
            return nil
        }
    }

    var bufferedCount: Int { orders.events.count + couriers.events.count }

    private static func headTime_ms(_ events: Deque<PendingEvent>) -> Int64? {
        events.isEmpty ? nil : events[events.startIndex].eventTime_ms
    }
}
