import AmoreCore
import DequeModule

/// What the merge needs of an input event, and how it changes its market.
protocol MarketEvent {
    var eventTime_ms: Int64 { get }
    var marketID: Identifier { get }
    func apply(to state: inout MarketState)
}

extension OrderEvent: MarketEvent {
    func apply(to state: inout MarketState) { state.apply(self) }
}

extension CourierPing: MarketEvent {
    func apply(to state: inout MarketState) { state.apply(self) }
}

/// One input event decoded and waiting for its turn in the merge. Each side holds its
/// own event type: plain values, copied without reference counting or a box.
struct PendingEvent<Event: MarketEvent> {
    var event: Event
    var offset: Int64
    /// The record's timestamp (CreateTime): where the event-to-publication delay starts.
    var createTime_ms: Int64
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
/// least as late buffered, or has been read to its end. Replaying input that is already
/// in Kafka always gives the same order.
///
/// Live, "read to its end" only means nothing more had arrived: a record produced
/// earlier may still be on its way (a producer's batch for the other partition, a fetch
/// answered a round later). Applied after the head, it lands after a refresh it belongs
/// before; in the full chaos run 681 of 11,287 zones ended with another
/// `courier_arrival_s` than a clean replay's, at the same version. So with `mergeWait_ns` (Kafka
/// Streams' `max.task.idle.ms`) a side read to its end holds the other back until its next
/// record arrives (the heads are then compared as in a replay), or it has had no record
/// for that long since a head first waited for it (an idle side). 0, the default,
/// proceeds at once: the lowest delay.
///
/// The wait has no shortcut through the highest event time a side has seen: event times
/// rise per market (the record key), not per partition. A partition carrying several
/// markets goes back in time between them (`amore simulate --markets 3`: 11,790 of 18,000
/// pings earlier than a record before them, by up to 981 ms), so a later event of one
/// market says nothing about the next record, and a replay compares the heads whatever
/// their markets.
final class PartitionPair {
    struct Side<Event: MarketEvent> {
        var events = Deque<PendingEvent<Event>>()
        /// The offset after the last record fetched; nil before the first.
        var nextOffset: Int64?
        /// Records before this offset were processed before (committed): they are
        /// replayed to rebuild state, without publishing or dead-lettering again.
        var replayEnd: Int64 = 0
        /// False when this instance was not assigned this side (it then holds nothing back).
        var isAssigned = false
        /// Wall clock (ns, monotonic) of the last record taken from this side, or of its assignment.
        var lastInput_ns: UInt64 = 0

        /// The first offset not yet applied, as far as fetched (no floor at `replayEnd`).
        var appliedUpTo: Int64? { events.first?.offset ?? nextOffset }

        /// The first offset not yet applied: where a restart must resume.
        var resumeOffset: Int64? {
            if let first = events.first { return max(first.offset, replayEnd) }
            if let nextOffset { return max(nextOffset, replayEnd) }
            return replayEnd > 0 ? replayEnd : nil
        }

        /// Forgets what is buffered and resumes, when the side comes back, at the first
        /// event not applied.
        mutating func release() {
            nextOffset = resumeOffset
            events.removeAll()
            isAssigned = false
        }
    }

    enum SideName { case orders, couriers }

    let partition: Int32
    var orders = Side<OrderEvent>()
    var couriers = Side<CourierPing>()
    var markets: [Identifier: MarketBox] = [:]
    /// Wall clock (ns, monotonic) of the last record fetched for either side.
    var lastInput_ns: UInt64 = 0
    /// The merge wait's current hold: the empty side a head waits for, and since when
    /// (wall clock, ns, monotonic). A new hold begins once that side has had a record since.
    private(set) var hold: (side: SideName, since_ns: UInt64)?
    /// Whether events were applied since the last idle refresh.
    var hasUnrefreshedEvents = false
    /// The CreateTime of the last event applied (for the delay of an idle refresh).
    var lastCreateTime_ms: Int64 = 0
    /// Whether events were applied (or rankings refreshed) since the last checkpoint.
    var changedSinceCheckpoint = false
    /// Wall clock (ns, monotonic) of the last checkpoint written; 0 before the first.
    var lastCheckpoint_ns: UInt64 = 0
    var lastCheckpointBytes = 0
    /// Set from gaining the pair until its state has caught up with the committed offsets
    /// (it publishes nothing before that).
    var restore: RestoreProgress?
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

    /// The side's bookkeeping, for callers that name the side at run time.
    func isAssigned(_ side: SideName) -> Bool { side == .orders ? orders.isAssigned : couriers.isAssigned }
    func nextOffset(_ side: SideName) -> Int64? { side == .orders ? orders.nextOffset : couriers.nextOffset }
    func replayEnd(_ side: SideName) -> Int64 { side == .orders ? orders.replayEnd : couriers.replayEnd }
    func resumeOffset(_ side: SideName) -> Int64? { side == .orders ? orders.resumeOffset : couriers.resumeOffset }
    func lastInput_ns(_ side: SideName) -> UInt64 { side == .orders ? orders.lastInput_ns : couriers.lastInput_ns }
    func bufferedCount(_ side: SideName) -> Int { side == .orders ? orders.events.count : couriers.events.count }

    /// The side is this instance's; a side new to it replays up to `committed` first.
    func assign(_ side: SideName, committed: Int64, now_ns: UInt64 = 0) {
        switch side {
        case .orders:
            orders.isAssigned = true
            orders.lastInput_ns = now_ns
            if orders.nextOffset == nil { orders.replayEnd = max(0, committed) }
        case .couriers:
            couriers.isAssigned = true
            couriers.lastInput_ns = now_ns
            if couriers.nextOffset == nil { couriers.replayEnd = max(0, committed) }
        }
    }

    /// The side whose head event comes next in event-time order, or nil when the merge
    /// must wait. `isReadToEnd(side)` says whether a side with nothing buffered has been
    /// fetched to its partition's end; `mergeWait_ns` (see the type) how long such a side
    /// holds the other back.
    func nextSide(isReadToEnd: (SideName) -> Bool, now_ns: UInt64 = 0, mergeWait_ns: UInt64 = 0) -> SideName? {
        // Only the heads' times are read, in place.
        switch (Self.headTime_ms(orders.events), Self.headTime_ms(couriers.events)) {
        case let (order?, ping?):
            // Ties go to orders: a deterministic rule, any one would do.
            return order <= ping ? .orders : .couriers
        case (_?, nil):
            guard couriers.isAssigned else { return .orders }
            return isReadToEnd(.couriers) && isIdle(.couriers, now_ns: now_ns, wait_ns: mergeWait_ns) ? .orders : nil
        case (nil, _?):
            guard orders.isAssigned else { return .couriers }
            return isReadToEnd(.orders) && isIdle(.orders, now_ns: now_ns, wait_ns: mergeWait_ns) ? .couriers : nil
        case (nil, nil):
            return nil
        }
    }

    /// Whether an empty side read to its end lets the other's head go: it has had no
    /// record since a head first waited for it, `wait_ns` ago. As Kafka Streams' idle
    /// deadline, the wait is paid once per quiet spell of a side, not per record of the
    /// other: a side quiet for minutes holds nothing back after its first `wait_ns`.
    private func isIdle(_ side: SideName, now_ns: UInt64, wait_ns: UInt64) -> Bool {
        guard wait_ns > 0 else { return true }
        if let hold, hold.side == side, hold.since_ns >= lastInput_ns(side) {
            return now_ns &- hold.since_ns >= wait_ns
        }
        hold = (side, now_ns)
        return false
    }

    var bufferedCount: Int { orders.events.count + couriers.events.count }

    /// Whether both sides have applied everything before their replay ends.
    var hasReplayedToCommitted: Bool {
        (orders.appliedUpTo ?? 0) >= orders.replayEnd && (couriers.appliedUpTo ?? 0) >= couriers.replayEnd
    }

    private static func headTime_ms<Event>(_ events: Deque<PendingEvent<Event>>) -> Int64? {
        events.isEmpty ? nil : events[events.startIndex].event.eventTime_ms
    }
}

/// How a gained pair is being brought up to its committed offsets.
struct RestoreProgress {
    enum Source: String { case checkpoint, fullReplay = "full_replay" }
    var source: Source
    var started_ns: UInt64
    /// Where replay started on each side (the checkpoint's offsets, or the beginning).
    var ordersStart: Int64
    var couriersStart: Int64
}
