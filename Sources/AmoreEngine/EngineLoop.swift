#if canImport(Glibc)
import Glibc
#endif
import AmoreCore
import AmoreKafka
import Logging

/// The engine thread's loop, over everything a running engine holds (built by
/// `Engine.run`, all of it there from the start): poll the group consumer and the
/// profiles consumer, decode, merge each pair's two sides by event time, apply, publish
/// what changed, refresh quiet pairs, checkpoint and commit on schedule.
final class EngineLoop {
    private let settings: EngineSettings
    private let status: EngineStatus
    private let metrics: EngineMetrics
    private let logger: Logger
    private let stopRequest: StopRequest
    private let consumer: Consumer
    private let profileConsumer: Consumer
    private let publisher: Publisher
    private let profiles: ProfileTable
    private let ownership: PartitionOwnership
    private let commits: CommitScheduler
    private let checkpointer: Checkpointer?
    private var fetchStallWatch = FetchStallWatch()
    /// The input topics' names as C strings, compared with each record's.
    private let ordersTopicName: [CChar]
    private let couriersTopicName: [CChar]

    init(settings: EngineSettings, status: EngineStatus, metrics: EngineMetrics, logger: Logger, stopRequest: StopRequest,
         consumer: Consumer, profileConsumer: Consumer, publisher: Publisher, profiles: ProfileTable, ownership: PartitionOwnership,
         commits: CommitScheduler, checkpointer: Checkpointer?) {
        self.settings = settings
        self.status = status
        self.metrics = metrics
        self.logger = logger
        self.stopRequest = stopRequest
        self.consumer = consumer
        self.profileConsumer = profileConsumer
        self.publisher = publisher
        self.profiles = profiles
        self.ownership = ownership
        self.commits = commits
        self.checkpointer = checkpointer
        ordersTopicName = Array(settings.topics.orders.utf8CString)
        couriersTopicName = Array(settings.topics.couriers.utf8CString)
    }

    private var isStopping: Bool { stopRequest.isRequested }

    /// Reads every restaurant profile to the end of its topic (the instance is ready
    /// after this); the profiles consumer keeps the table current afterwards.
    func loadProfiles() throws {
        let partitions = try profileConsumer.metadata(topic: settings.topics.restaurants, timeout_ms: 10_000)
            .topic(settings.topics.restaurants)?.partitions.map(\.id) ?? []
        try profileConsumer.assign(partitions.map { TopicPartition(settings.topics.restaurants, $0, offset: KafkaOffset.beginning) })
        var remaining = Set(partitions)
        let start_ns = Clock.monotonic_ns()
        while !remaining.isEmpty && !isStopping {
            status.markLoop(now_ns: Clock.monotonic_ns())
            try profileConsumer.poll(maxRecords: settings.maxBatchRecords, timeout_ms: 100) { batch in
                for record in batch { try take(profile: record) }
                for end in batch.reachedEnd { remaining.remove(end.partition) }
            }
        }
        status.markProfilesLoaded()
        logger.info("restaurant profiles loaded", metadata: [
            "restaurants": "\(profiles.restaurantCount)", "markets": "\(profiles.marketCount)",
            "ms": "\((Clock.monotonic_ns() - start_ns) / 1_000_000)",
        ])
    }

    /// Until `Engine.stop`; then publishes what is pending, commits and leaves the group.
    func run() throws {
        var nextCommit_ns: UInt64 = 0
        var nextGauges_ns: UInt64 = 0
        var pass = 0
        var outOfBudget = false
        let applyBudget_ns = UInt64(settings.applyBudget_ms) * 1_000_000
        while !isStopping {
            let now_ns = Clock.monotonic_ns()
            status.markLoop(now_ns: now_ns)
            let buffered = ownership.pairs.values.reduce(0) { $0 + $1.bufferedCount }
            let maxRecords = buffered >= settings.maxBufferedEvents ? 1 : settings.maxBatchRecords
            // Events left over from the last pass are work enough: no wait for input then.
            try consumer.poll(maxRecords: maxRecords, timeout_ms: outOfBudget ? 0 : 5) { batch in
                fetchStallWatch.polled(records: batch.count, asked: maxRecords, now_ns: now_ns)
                try take(batch)
            }
            try profileConsumer.poll(maxRecords: settings.maxBatchRecords, timeout_ms: 0) { batch in
                for record in batch { try take(profile: record) }
            }
            // Within the budget, starting at another pair each pass, so none waits on the others.
            let pairs = ownership.pairs.values.sorted { $0.partition < $1.partition }
            let applyUntil_ns = Clock.monotonic_ns() + applyBudget_ns
            pass &+= 1
            outOfBudget = false
            for index in pairs.indices {
                if try !drain(pairs[(index + pass) % pairs.count], until_ns: applyUntil_ns) { outOfBudget = true }
            }
            try refreshIdlePairs(now_ns: Clock.monotonic_ns())
            // Before the commit: a commit of offsets seen from outside implies this pass's
            // figures (or later ones) are there to read too.
            recordOutstandingWork()
            try checkpointer?.writeDue(ownership.pairs.values, now_ns: now_ns)
            if now_ns >= nextCommit_ns {
                nextCommit_ns = now_ns + UInt64(settings.commitInterval_ms) * 1_000_000
                try commits.commitAcknowledged(ownership.pairs.values, now_ns: now_ns)
            }
            if now_ns >= nextGauges_ns {
                nextGauges_ns = now_ns + 1_000_000_000
                updateGauges()
                checkKafkaReachability()
            }
        }
        logger.info("engine stopping: publishing what is pending, committing, leaving the group")
        try finish()
    }

    /// Applies what was read (as far as the merge allows) for at most
    /// `stopApplyBudget_ms`, commits where the owned partitions stand and leaves the
    /// group; with checkpoints, the revoke that leaving causes writes each pair's final
    /// one. Both cover exactly what was applied, so events still buffered are neither
    /// lost nor applied twice: the next owner reads them again after the commit.
    func finish() throws {
        defer { status.markStopping() }
        let applyUntil_ns = Clock.monotonic_ns() + UInt64(settings.stopApplyBudget_ms) * 1_000_000
        for pair in ownership.pairs.values.sorted(by: { $0.partition < $1.partition }) {
            _ = try drain(pair, until_ns: applyUntil_ns)
        }
        try commits.commitEverything(ownership.pairs.values)
        try consumer.close()
        try publisher.flush()
        logger.info("engine stopped")
    }

    /// Once a second while a transport error or "all brokers down" is unsettled: a metadata
    /// answer means Kafka is reachable; none within 500 ms (of this loop, which has nothing
    /// to fetch if Kafka is gone) means it is not.
    private func checkKafkaReachability() {
        guard status.kafkaInDoubt else { return }
        if (try? consumer.metadata(topic: settings.topics.orders, timeout_ms: 500)) != nil {
            if status.kafkaMarkedUnreachable { logger.notice("Kafka is reachable again") }
            status.markKafkaReachable()
        } else if status.confirmKafkaUnreachable() {
            logger.warning("no Kafka broker reachable: answering queries from the last rankings, /readyz says so")
        }
    }

    // MARK: Input

    /// The side a record's topic feeds, by its name's characters, so that no String is
    /// made per record. Not by the name's address: librdkafka may free a topic's handle
    /// when a rebalance takes its partitions away, and the memory can then hold another name.
    private func side(of record: ConsumerRecord) -> PartitionPair.SideName? {
        let name = record.topicCString
        if ordersTopicName.withUnsafeBufferPointer({ strcmp($0.baseAddress!, name) }) == 0 { return .orders }
        if couriersTopicName.withUnsafeBufferPointer({ strcmp($0.baseAddress!, name) }) == 0 { return .couriers }
        return nil
    }

    /// A record without a value (a tombstone) is decoded as empty: the decoder refuses it.
    private static var noBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }

    private func context(of record: ConsumerRecord) -> RecordContext {
        RecordContext(key: record.key, timestamp_ms: record.timestamp_ms, maxFutureSkew_ms: settings.maxFutureSkew_ms)
    }

    private func take(_ batch: RecordBatch) throws {
        guard !batch.isEmpty else { return }
        let now_ns = Clock.monotonic_ns()
        var orderCounts = [Int](repeating: 0, count: OrderEventType.allCases.count)
        var pingCounts = [Int](repeating: 0, count: CourierStatus.allCases.count)
        // A batch is mostly runs of one partition: look its pair up once per run.
        var current: (partition: Int32, pair: PartitionPair?) = (-1, nil)
        for record in batch {
            guard let side = side(of: record) else { continue }
            if record.partition != current.partition { current = (record.partition, ownership.pairs[record.partition]) }
            guard let pair = current.pair else { continue }
            pair.lastInput_ns = now_ns
            let context = context(of: record)
            let value = record.value ?? Self.noBytes
            do throws(EventRejection) {
                switch side {
                case .orders:
                    pair.orders.nextOffset = record.offset + 1
                    pair.orders.lastInput_ns = now_ns
                    let event = try EventDecoder.decodeOrderEvent(value, context: context)
                    orderCounts[Int(event.type.rawValue)] += 1
                    pair.orders.events.append(PendingEvent(event: event, offset: record.offset, createTime_ms: context.timestamp_ms))
                case .couriers:
                    pair.couriers.nextOffset = record.offset + 1
                    pair.couriers.lastInput_ns = now_ns
                    let ping = try EventDecoder.decodeCourierPing(value, context: context)
                    pingCounts[Int(ping.status.rawValue)] += 1
                    pair.couriers.events.append(PendingEvent(event: ping, offset: record.offset, createTime_ms: context.timestamp_ms))
                }
            } catch {
                // Dead-lettered when first read; a replay of it was dead-lettered before.
                if record.offset >= pair.replayEnd(side) { try publisher.deadLetter(record, error) }
            }
        }
        for (index, count) in orderCounts.enumerated() where count > 0 {
            metrics.recordsIn[settings.topics.orders]?[index].increment(by: Int64(count))
        }
        for (index, count) in pingCounts.enumerated() where count > 0 {
            metrics.recordsIn[settings.topics.couriers]?[index].increment(by: Int64(count))
        }
    }

    private func take(profile record: ConsumerRecord) throws {
        let profile: RestaurantProfile
        do throws(EventRejection) {
            profile = try EventDecoder.decodeRestaurantProfile(record.value ?? Self.noBytes, context: context(of: record))
        } catch {
            // Every instance reads every profile, so each dead-letters a bad one: the
            // dead letters' source coordinates tell the copies apart from new ones.
            try publisher.deadLetter(record, error)
            return
        }
        metrics.recordsIn[settings.topics.restaurants]?[0].increment()
        guard profiles.update(profile) else { return }
        status.restaurants.update(profile)
        ownership.ownedMarket(profile.marketID)?.state.apply(profile)
    }

    // MARK: Processing

    /// Applies the pair's events in event-time order, as far as the merge allows and
    /// until `until_ns` (monotonic): what is left waits for the next pass. False when
    /// it stopped for the time.
    private func drain(_ pair: PartitionPair, until_ns: UInt64) throws -> Bool {
        var cursor = DrainCursor()
        defer {
            if cursor.applied > 0 {
                status.addApplied(cursor.applied)
                pair.hasUnrefreshedEvents = true
                pair.changedSinceCheckpoint = true
                pair.lastCreateTime_ms = cursor.lastCreateTime_ms
            }
            if pair.restore != nil, pair.hasReplayedToCommitted { finishRestore(pair) }
        }
        // Asked at most once per side per drain: the watermark lookup takes librdkafka's
        // locks, and nothing fetched arrives while draining.
        var readToEnd: (orders: Bool?, couriers: Bool?) = (nil, nil)
        let isReadToEnd = { (side: PartitionPair.SideName) -> Bool in
            switch side {
            case .orders:
                if readToEnd.orders == nil { readToEnd.orders = self.isReadToEnd(pair, .orders) }
                return readToEnd.orders!
            case .couriers:
                if readToEnd.couriers == nil { readToEnd.couriers = self.isReadToEnd(pair, .couriers) }
                return readToEnd.couriers!
            }
        }
        let now_ns = settings.mergeWait_ms > 0 ? Clock.monotonic_ns() : 0
        let mergeWait_ns = UInt64(settings.mergeWait_ms) * 1_000_000
        while let side = pair.nextSide(isReadToEnd: isReadToEnd, now_ns: now_ns, mergeWait_ns: mergeWait_ns) {
            switch side {
            case .orders: try apply(pair.orders.events.removeFirst(), from: .orders, of: pair, &cursor)
            case .couriers: try apply(pair.couriers.events.removeFirst(), from: .couriers, of: pair, &cursor)
            }
            // The clock is read every 16 events: ~25 ns each, against microseconds per event.
            if cursor.applied & 15 == 0 && Clock.monotonic_ns() >= until_ns { return false }
        }
        if !pair.deferredZones.isEmpty && !isCatchingUp(pair, .orders) && !isCatchingUp(pair, .couriers) {
            try publish(pair.takeDeferredZones(), createTime_ms: 0)
        }
        return true
    }

    /// What one drain carries from event to event.
    private struct DrainCursor {
        var applied = 0
        var lastCreateTime_ms: Int64 = 0
        // Consecutive events are mostly of one market: compare ids before hashing one.
        var currentID: Identifier?
        var currentMarket: MarketBox?
    }

    @inline(__always)
    private func apply<Event: MarketEvent>(_ pending: PendingEvent<Event>, from side: PartitionPair.SideName,
                                           of pair: PartitionPair, _ cursor: inout DrainCursor) throws {
        cursor.applied += 1
        cursor.lastCreateTime_ms = pending.createTime_ms
        let market: MarketBox
        if cursor.currentID == pending.event.marketID, let current = cursor.currentMarket {
            market = current
        } else {
            market = ownership.market(pending.event.marketID, in: pair)
            cursor.currentID = pending.event.marketID
            cursor.currentMarket = market
        }
        // One access to the market's state per event (each access to a class's stored
        // property is checked at run time).
        let zones = market.withState { state -> [GeohashCell]? in
            pending.event.apply(to: &state)
            return state.hasPublishedZones ? state.takePublishedZones() : nil
        }
        // A refresh publishes what the events before this one made; while replaying
        // those were published (or will be recovered) already.
        guard let zones, pending.offset >= pair.replayEnd(side) else { return }
        if isCatchingUp(pair, side) {
            pair.deferPublication(of: zones)
        } else {
            try publish(zones, createTime_ms: pending.createTime_ms)
        }
    }

    private func publish(_ zones: [GeohashCell], createTime_ms: Int64) throws {
        try publisher.publish(zones, board: status.board, createTime_ms: createTime_ms)
    }

    private func isCatchingUp(_ pair: PartitionPair, _ side: PartitionPair.SideName) -> Bool {
        guard pair.isAssigned(side), let next = pair.nextOffset(side), let marks = watermarks(pair, side) else { return false }
        return marks.high - next + Int64(pair.bufferedCount(side)) > Int64(settings.catchUpLag)
    }

    private func isReadToEnd(_ pair: PartitionPair, _ side: PartitionPair.SideName) -> Bool {
        guard let marks = watermarks(pair, side) else { return false }
        guard let next = pair.nextOffset(side) else { return marks.high <= marks.low }
        return next >= marks.high
    }

    private func topic(of side: PartitionPair.SideName) -> String {
        side == .orders ? settings.topics.orders : settings.topics.couriers
    }

    /// A side's partition watermarks as of the last fetch (no request).
    private func watermarks(_ pair: PartitionPair, _ side: PartitionPair.SideName) -> (low: Int64, high: Int64)? {
        consumer.cachedWatermarks(topic: topic(of: side), partition: pair.partition)
    }

    /// Brings a quiet pair's rankings up to its last event (instead of waiting for an
    /// event that crosses the next resolution step), once its input has been read to the
    /// end and nothing arrived for `idleRefresh_ms`.
    private func refreshIdlePairs(now_ns: UInt64) throws {
        let quiet_ns = UInt64(settings.idleRefresh_ms) * 1_000_000
        for pair in ownership.pairs.values where pair.hasUnrefreshedEvents && pair.bufferedCount == 0
            && now_ns &- pair.lastInput_ns >= quiet_ns {
            guard (!pair.orders.isAssigned || isReadToEnd(pair, .orders))
                && (!pair.couriers.isAssigned || isReadToEnd(pair, .couriers)) else { continue }
            pair.hasUnrefreshedEvents = false
            // What was published changed with no input read: only a newer checkpoint keeps
            // it (a replay never repeats an idle refresh, which depends on wall time).
            pair.changedSinceCheckpoint = true
            for market in pair.markets.values {
                guard let clock = market.state.clock_ms, clock > market.state.rankingsAsOf_ms ?? .min else { continue }
                market.state.refreshRankings(asOf_ms: clock)
                try publish(market.state.takePublishedZones(), createTime_ms: pair.lastCreateTime_ms)
            }
        }
    }

    /// The pair's state has caught up with its committed offsets: it publishes again.
    private func finishRestore(_ pair: PartitionPair) {
        guard let restore = pair.restore else { return }
        pair.restore = nil
        let elapsed_ns = Int64(Clock.monotonic_ns() - restore.started_ns)
        let replayed = (pair.orders.replayEnd - restore.ordersStart) + (pair.couriers.replayEnd - restore.couriersStart)
        metrics.restore[restore.source]?.recordNanoseconds(elapsed_ns)
        metrics.replayedRecords.increment(by: max(0, replayed))
        logger.info("pair restored: publishing its markets again", metadata: [
            "pair": "\(pair.partition)", "from": "\(restore.source.rawValue)", "markets": "\(pair.markets.count)",
            "replayed_records": "\(replayed)", "ms": "\(elapsed_ns / 1_000_000)",
        ])
    }

    // MARK: Gauges

    /// Input partitions whose fetches return nothing although records are waiting (see
    /// `FetchStallWatch`), described for /readyz, each logged once per stall.
    private func watchFetchProgress(_ pairs: [PartitionPair], now_ns: UInt64) -> [String] {
        var observations: [FetchStallWatch.Observation] = []
        for pair in pairs {
            for side in [PartitionPair.SideName.orders, .couriers] where pair.isAssigned(side) {
                guard let marks = watermarks(pair, side) else { continue }
                observations.append(.init(partition: TopicPartition(topic(of: side), pair.partition),
                                          position: pair.nextOffset(side) ?? marks.low, highWatermark: marks.high))
            }
        }
        return fetchStallWatch.observe(observations, now_ns: now_ns).map { stall in
            if stall.isNew {
                logger.error("fetch stalled: the broker answers this partition's fetches with no records although records are waiting; resetting its fetch", metadata: [
                    "partition": "\(stall.partition)", "position": "\(stall.position)", "waiting": "\(stall.waiting)",
                    "hint": "with the local broker, raise fetch.wait.max.ms (e.g. --kafka fetch.wait.max.ms=50): it gives up reading a large partition within that time",
                ])
            }
            if stall.recover {
                metrics.fetchResets.increment()
                do {
                    var partition = stall.partition
                    partition.offset = stall.position
                    try consumer.seek([partition], timeout_ms: 1_000)
                } catch {
                    logger.warning("fetch stalled: the reset failed (\(error)); trying again in \(fetchStallWatch.limit_ns / 1_000_000_000) s",
                                   metadata: ["partition": "\(stall.partition)"])
                }
            }
            return "pair \(stall.partition.partition): no record fetched from \(stall.partition) for \(stall.duration_ns / 1_000_000_000) s with \(stall.waiting) waiting"
        }
    }

    private var lastOutstanding = (awaitingRefresh: -1, unacknowledged: -1)

    /// Work on what was already read that is not done yet (refreshes, acknowledgements),
    /// recorded when it changes: both 0 after everything read is published. A check
    /// that an engine has finished (the tests' `waitUntilCaughtUp`) relies on it.
    private func recordOutstandingWork() {
        let awaiting = ownership.pairs.values.reduce(0) { $0 + ($1.hasUnrefreshedEvents ? 1 : 0) }
        let unacknowledged = publisher.ledger.unacknowledged
        if awaiting != lastOutstanding.awaitingRefresh { metrics.pairsAwaitingIdleRefresh.record(awaiting) }
        if unacknowledged != lastOutstanding.unacknowledged { metrics.unacknowledgedPublications.record(unacknowledged) }
        lastOutstanding = (awaiting, unacknowledged)
    }

    private func updateGauges() {
        var restaurants = 0
        var couriers = 0
        var zones = 0
        var markets = 0
        let pairs = ownership.pairs.values.sorted { $0.partition < $1.partition }
        for pair in pairs {
            for market in pair.markets.values {
                restaurants += market.state.restaurantCount
                couriers += market.state.courierCount
                zones += market.state.zoneCount
                markets += 1
            }
            for side in [PartitionPair.SideName.orders, .couriers] {
                guard let gauge = ownership.lagGauges[TopicPartition(topic(of: side), pair.partition)],
                      let marks = watermarks(pair, side) else { continue }
                // Fetched records count even past a high watermark that lags them (a broker
                // answer older than the records it came with): they are not applied yet.
                let end = max(marks.high, pair.nextOffset(side) ?? marks.low)
                gauge.record(max(0, end - (pair.resumeOffset(side) ?? marks.low)))
            }
        }
        var restoring: [String] = []
        let now_ns = Clock.monotonic_ns()
        let stalled = watchFetchProgress(pairs, now_ns: now_ns)
        metrics.stalledPartitions.record(stalled.count)
        restoring += stalled
        for pair in pairs {
            if pair.lastCheckpoint_ns > 0 {
                metrics.checkpointAge(partition: pair.partition).record(Double(now_ns &- pair.lastCheckpoint_ns) / 1e9)
            }
            guard let restore = pair.restore else { continue }
            let markets = pair.markets.keys.map(\.description).sorted().joined(separator: ",")
            restoring.append("pair \(pair.partition) (markets \(markets.isEmpty ? "not yet known" : markets)): "
                + "replaying \(restore.source == .checkpoint ? "from its checkpoint" : "its whole retained input") "
                + "to the committed offsets, for \((now_ns - restore.started_ns) / 1_000_000) ms")
        }
        metrics.restoringPairs.record(restoring.count)
        status.setRestoring(restoring)
        metrics.restaurants.record(restaurants)
        metrics.couriers.record(couriers)
        metrics.zones.record(zones)
        metrics.markets.record(markets)
    }
}
