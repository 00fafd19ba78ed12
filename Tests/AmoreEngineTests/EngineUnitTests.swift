@testable import AmoreEngine
import AmoreCore
import AmoreKafka
import AmoreTestSupport
import Testing

/// The engine's bookkeeping without a broker: which offsets may be committed, and the
/// order in which a partition pair's events are applied.
@Suite struct EngineUnitTests {
    static func delivered(_ token: UInt, error: Int32 = 0) -> DeliveryReport {
        DeliveryReport(token: token, partition: 0, offset: 0, errorCode: error)
    }

    @Test func aCheckpointIsCommittableOnlyOnceItsEpochAndEveryEarlierOneIsAcknowledged() {
        let ledger = PublicationLedger()
        let a = ledger.token(createTime_ms: 1_000)
        let b = ledger.token(createTime_ms: 0)
        ledger.closeEpoch(checkpoint: [TopicPartition("orders", 0, offset: 10)])
        let c = ledger.token(createTime_ms: 2_000)
        ledger.closeEpoch(checkpoint: [TopicPartition("orders", 0, offset: 20)])
        ledger.closeEpoch(checkpoint: [TopicPartition("orders", 0, offset: 30)])  // nothing produced in it

        // Epoch 1's record acknowledged first: nothing may be committed while epoch 0 waits.
        #expect(ledger.acknowledge(Self.delivered(c), now_ms: 2_050) == 50)
        #expect(ledger.takeCommittable() == nil)
        #expect(ledger.acknowledge(Self.delivered(a), now_ms: 1_007) == 7)
        #expect(ledger.takeCommittable() == nil)
        // A dead letter (no CreateTime) reports no delay; then everything is acknowledged and
        // the newest checkpoint wins.
        #expect(ledger.acknowledge(Self.delivered(b), now_ms: 5_000) == nil)
        #expect(ledger.takeCommittable() == [TopicPartition("orders", 0, offset: 30)])
        #expect(ledger.takeCommittable() == nil)
        #expect(ledger.unacknowledged == 0)
        #expect(ledger.failure == nil)
    }

    @Test func aWithdrawnRecordDoesNotHoldItsEpochAndAFailureIsKept() {
        let ledger = PublicationLedger()
        let sent = ledger.token(createTime_ms: 10)
        let refused = ledger.token(createTime_ms: 10)
        ledger.withdraw(refused)
        ledger.closeEpoch(checkpoint: [TopicPartition("couriers", 1, offset: 5)])
        #expect(ledger.unacknowledged == 1)
        #expect(ledger.takeCommittable() == nil)
        ledger.acknowledge(Self.delivered(sent, error: -192), now_ms: 20)  // _MSG_TIMED_OUT
        // Recorded for the engine, which stops on it before committing anything more.
        #expect(ledger.failure?.code == -192)
    }

    @Test func delaysSurviveCreateTimesBeyondTheTokensFortyBits() {
        // 2026's epoch milliseconds need 41 bits; the token keeps them modulo 2^40.
        let ledger = PublicationLedger()
        let created: Int64 = 1_767_225_600_000
        let token = ledger.token(createTime_ms: created)
        #expect(ledger.acknowledge(Self.delivered(token), now_ms: created + 12) == 12)
    }

    static func ping(_ time_ms: Int64, offset: Int64) -> PendingEvent<CourierPing> {
        PendingEvent(event: Scenario.ping("K", north_m: 0, at: time_ms), offset: offset, createTime_ms: time_ms)
    }

    static func order(_ time_ms: Int64, offset: Int64) -> PendingEvent<OrderEvent> {
        PendingEvent(event: Scenario.order("o", at: "A", .placed, time_ms), offset: offset, createTime_ms: time_ms)
    }

    /// Takes events in the merge's order until it must wait, as the engine's drain does.
    static func takeAll(_ pair: PartitionPair, _ isReadToEnd: (PartitionPair.SideName) -> Bool)
        -> [(time_ms: Int64, offset: Int64, side: PartitionPair.SideName)] {
        var taken: [(Int64, Int64, PartitionPair.SideName)] = []
        while let side = pair.nextSide(isReadToEnd: isReadToEnd) {
            switch side {
            case .orders:
                let pending = pair.orders.events.removeFirst()
                taken.append((pending.event.eventTime_ms, pending.offset, side))
            case .couriers:
                let pending = pair.couriers.events.removeFirst()
                taken.append((pending.event.eventTime_ms, pending.offset, side))
            }
        }
        return taken
    }

    @Test func aPairAppliesEventsInEventTimeOrderAndWaitsForASideThatMayHoldAnEarlierOne() {
        let pair = PartitionPair(partition: 0)
        pair.orders.isAssigned = true
        pair.couriers.isAssigned = true
        pair.orders.events.append(contentsOf: [Self.order(1_000, offset: 0), Self.order(3_000, offset: 1)])
        pair.couriers.events.append(contentsOf: [Self.ping(1_000, offset: 0), Self.ping(2_000, offset: 1)])
        let ordersAtEnd = false
        var couriersAtEnd = false
        let atEnd = { (side: PartitionPair.SideName) in side == .orders ? ordersAtEnd : couriersAtEnd }
        let taken = Self.takeAll(pair, atEnd)
        // Ties go to orders; the order at 3,000 waits: couriers may still hold a ping before it.
        #expect(taken.map(\.time_ms) == [1_000, 1_000, 2_000])
        #expect(taken.map(\.side) == [.orders, .couriers, .couriers])
        #expect(pair.orders.events.count == 1)
        // Couriers read to their end: nothing can come before it any more.
        couriersAtEnd = true
        #expect(Self.takeAll(pair, atEnd).map(\.time_ms) == [3_000])
        #expect(pair.nextSide(isReadToEnd: atEnd) == nil)
    }

    /// Hand-worked, merge wait 2 s, both sides read to their end, orders with nothing
    /// buffered, their last record (an order of another market, at event time 1,000)
    /// fetched at wall time 10 s:
    /// - pings at 900 and 950, fetched at 10 s, wait: that orders have seen 1,000 says
    ///   nothing of their next record, which may be an earlier order of this market. The
    ///   hold on orders begins at 10 s: at 11.9 s the first ping still waits; at 12 s both go.
    /// - a ping at 3,000 fetched at 30 s goes at once: orders have had no record since the
    ///   hold began, so their quiet spell has been paid for (Kafka Streams' idle deadline).
    ///   Had orders not been read to their end, it would wait however long.
    /// - an order at 3,200 fetched at 33 s and a ping at 3,500: the order goes first (heads
    ///   compared); orders had a record since the hold began, so the ping starts a new hold
    ///   at 33 s and goes at 35 s; without a wait (0) it would have gone at once.
    /// - an order at 4,000 at 40 s with couriers empty: a hold on the other side, from 40 s
    ///   (couriers' last record, at their assignment, is older): it goes at 42 s.
    @Test func aSideReadToItsEndHoldsTheOtherBackForTheMergeWaitOncePerQuietSpell() {
        let second: UInt64 = 1_000_000_000
        let wait_ns = 2 * second
        let pair = PartitionPair(partition: 0)
        pair.assign(.orders, committed: 0, now_ns: 0)
        pair.assign(.couriers, committed: 0, now_ns: 0)
        pair.orders.lastInput_ns = 10 * second
        let atEnd = { (_: PartitionPair.SideName) in true }
        let next = { (now_ns: UInt64) in pair.nextSide(isReadToEnd: atEnd, now_ns: now_ns, mergeWait_ns: wait_ns) }

        pair.couriers.events.append(Self.ping(900, offset: 0))
        pair.couriers.events.append(Self.ping(950, offset: 1))
        #expect(next(10 * second) == nil)
        #expect(next(12 * second - second / 10) == nil)
        #expect(next(12 * second) == .couriers)
        pair.couriers.events.removeFirst()
        #expect(next(12 * second) == .couriers)
        pair.couriers.events.removeFirst()
        #expect(next(12 * second) == nil, "nothing buffered")

        pair.couriers.events.append(Self.ping(3_000, offset: 2))
        #expect(pair.nextSide(isReadToEnd: { $0 == .couriers }, now_ns: 30 * second, mergeWait_ns: wait_ns) == nil,
                "orders not read to their end: wait, however long")
        #expect(next(30 * second) == .couriers)
        pair.couriers.events.removeFirst()

        pair.orders.events.append(Self.order(3_200, offset: 0))
        pair.orders.lastInput_ns = 33 * second
        pair.couriers.events.append(Self.ping(3_500, offset: 3))
        #expect(next(33 * second) == .orders)
        pair.orders.events.removeFirst()
        #expect(next(33 * second) == nil)
        #expect(next(35 * second - 1) == nil)
        #expect(pair.nextSide(isReadToEnd: atEnd, now_ns: 33 * second, mergeWait_ns: 0) == .couriers)
        #expect(next(35 * second) == .couriers)
        pair.couriers.events.removeFirst()

        pair.orders.events.append(Self.order(4_000, offset: 1))
        pair.orders.lastInput_ns = 40 * second
        #expect(next(40 * second) == nil)
        #expect(pair.hold?.side == .couriers)
        #expect(next(42 * second - 1) == nil)
        #expect(next(42 * second) == .orders)
    }

    @Test func aSideThisInstanceWasNotGivenHoldsNothingBack() {
        let pair = PartitionPair(partition: 2)
        pair.couriers.isAssigned = true
        pair.couriers.events.append(Self.ping(5_000, offset: 7))
        #expect(Self.takeAll(pair, { _ in false }).map(\.offset) == [7])
    }

    @Test func aPairResumesAtItsFirstUnappliedOffsetAndNeverBeforeItsReplayEnd() {
        var side = PartitionPair.Side<CourierPing>()
        #expect(side.resumeOffset == nil)
        side.replayEnd = 40
        #expect(side.resumeOffset == 40)
        side.nextOffset = 25  // still replaying
        #expect(side.resumeOffset == 40)
        side.nextOffset = 60
        #expect(side.resumeOffset == 60)
        side.events.append(Self.ping(1, offset: 52))
        #expect(side.resumeOffset == 52)
        // Given up in a rebalance: what was buffered is dropped, and fetched again from
        // its first offset if the side comes back (not from after the last one fetched).
        side.isAssigned = true
        side.release()
        #expect(side.events.isEmpty && !side.isAssigned)
        #expect(side.nextOffset == 52)
        #expect(side.resumeOffset == 52)
    }

    /// Hand-worked, limit 10 s, calls a second apart (t in s):
    /// - couriers[1] at 500 with high watermark 900 from t=0: stalled from t=10, reported
    ///   every call; new and to be reset at t=10, reset again at t=20 (one limit later);
    ///   it moves to 600 at t=21: no stall, the clock restarts, and t=31 is a new stall;
    /// - orders[1] at its high watermark (nothing waiting) is never stalled, however long;
    /// - a partition no longer observed (t=32) is forgotten: back at t=40, its clock
    ///   starts again (t=50), with 300 waiting;
    /// - a full poll at t=51 means the engine is behind: nothing is watched until t=61,
    ///   where the clock starts again (stalled at t=71);
    /// - a poll of 2,000 that returned 1 (t=72) is not behind: the stall goes on (t=73);
    ///   a poll of 1 that returned 1 (t=80, a full buffer's poll) is: nothing until t=90,
    ///   stalled again at t=100.
    @Test func aPartitionWithRecordsWaitingAndNoProgressIsReportedAfterTheLimit() {
        var watch = FetchStallWatch()
        watch.limit_ns = 10_000_000_000
        let couriers = TopicPartition("couriers", 1)
        let orders = TopicPartition("orders", 1)
        func at(_ t_s: UInt64, couriersAt position: Int64?, high: Int64 = 900) -> [FetchStallWatch.Stall] {
            var observations = [FetchStallWatch.Observation(partition: orders, position: 40, highWatermark: 40)]
            if let position { observations.append(.init(partition: couriers, position: position, highWatermark: high)) }
            return watch.observe(observations, now_ns: t_s * 1_000_000_000)
        }
        for t in UInt64(0)...9 { #expect(at(t, couriersAt: 500).isEmpty, "t=\(t)") }
        #expect(at(10, couriersAt: 500) == [.init(partition: couriers, position: 500, waiting: 400, duration_ns: 10_000_000_000,
                                                  isNew: true, recover: true)])
        #expect(at(11, couriersAt: 500).map { [$0.isNew, $0.recover] } == [[false, false]])
        for t in UInt64(12)...19 { #expect(at(t, couriersAt: 500).map(\.recover) == [false], "t=\(t)") }
        #expect(at(20, couriersAt: 500).map { [$0.isNew, $0.recover] } == [[false, true]])
        #expect(at(21, couriersAt: 600).isEmpty)
        for t in UInt64(22)...30 { #expect(at(t, couriersAt: 600).isEmpty, "t=\(t)") }
        #expect(at(31, couriersAt: 600).map { [$0.isNew, $0.recover] } == [[true, true]])
        #expect(at(32, couriersAt: nil).isEmpty)
        #expect(at(40, couriersAt: 600).isEmpty)
        #expect(at(49, couriersAt: 600).isEmpty)
        #expect(at(50, couriersAt: 600).map(\.waiting) == [300])

        // A full poll at t=51 (the engine is behind): nothing is reported until t=61, and
        // the clock starts again there: couriers[1], still at 600, is stalled at t=71.
        watch.polled(records: 2_000, asked: 2_000, now_ns: 51_000_000_000)
        for t in UInt64(51)...70 { #expect(at(t, couriersAt: 600).isEmpty, "t=\(t)") }
        #expect(at(71, couriersAt: 600).map { [$0.isNew, $0.recover] } == [[true, true]])
        watch.polled(records: 1, asked: 2_000, now_ns: 72_000_000_000)
        #expect(at(73, couriersAt: 600).map(\.isNew) == [false])
        watch.polled(records: 1, asked: 1, now_ns: 80_000_000_000)
        for t in UInt64(80)...99 { #expect(at(t, couriersAt: 600).isEmpty, "t=\(t)") }
        #expect(at(100, couriersAt: 600).map { [$0.isNew, $0.recover] } == [[true, true]])
    }

    /// A transport error alone leaves the instance ready: only a failed probe (or librdkafka's
    /// "all brokers down") makes it unready, dated from the first error; a probe's answer
    /// clears both, and the next error starts a new doubt.
    @Test func readinessFollowsTheProbeNotEachConnectionError() throws {
        let status = EngineStatus(board: RankingBoard(), zonePrecision: 6)
        status.markProfilesLoaded()
        #expect(status.isReady && !status.kafkaInDoubt)

        status.suspectKafkaUnreachable()
        #expect(status.isReady && status.kafkaInDoubt, "an idle connection closed is not an outage")
        status.markKafkaReachable()  // the probe answered
        #expect(status.isReady && !status.kafkaInDoubt)

        status.suspectKafkaUnreachable()
        #expect(status.confirmKafkaUnreachable(), "the probe found no broker")
        #expect(!status.confirmKafkaUnreachable(), "already unreachable: reported once")
        #expect(!status.isReady)
        let reason = try #require(status.notReadyReason)
        #expect(reason.hasPrefix("no Kafka broker reachable for "), "\(reason)")
        status.markKafkaReachable()
        #expect(status.isReady && status.notReadyReason == nil && !status.kafkaInDoubt)
    }
}
