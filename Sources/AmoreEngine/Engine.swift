#if canImport(Glibc)
import Glibc
#endif
import AmoreCore
import AmoreKafka
import CoreMetrics
import Logging
import Synchronization

/// The streaming job: reads restaurant profiles (all of them, as a table), order events
/// and courier pings (the partitions the group gives this instance), keeps each market's
/// state, and publishes the zone rankings that changed.
///
/// One thread (the caller of `run`) owns every partition pair this instance holds: it
/// polls, decodes, applies, publishes and commits, so each market has exactly one
/// writer and the ranking board one writer. Delivery reports come back on the
/// producer's thread and only touch the `PublicationLedger`.
///
/// Delivery: at-least-once. Offsets are committed only once every ranking and dead
/// letter produced before them has been acknowledged (see `PublicationLedger`); events
/// applied but not yet in a publication (the current resolution step) are recovered by
/// the rebuild. On gaining a partition pair the engine restores the pair's newest usable
/// checkpoint (`CheckpointStore`, at or before the committed offsets), replays from
/// there to the committed offsets without publishing (or from the beginning when no
/// checkpoint is usable), then continues live. The owner checkpoints each pair every
/// `checkpointInterval_ms`, and exactly at its committed offsets on revoke and shutdown,
/// so a planned handoff replays nothing.
public final class Engine: @unchecked Sendable {
    // @unchecked: the mutable state below is touched by the engine thread only (the one
    // in `run`, which also runs the rebalance callbacks); `stopRequested`, `status` and
    // the publisher's ledger are thread-safe.
    public let settings: EngineSettings
    public let status: EngineStatus
    private let logger: Logger
    private let metrics: EngineMetrics
    private let stopRequested = Atomic<Bool>(false)
    private let onPublished: (@Sendable (_ delay_ns: Int64) -> Void)?

    private var publisher: Publisher?
    private var consumer: Consumer?
    private var checkpoints: CheckpointStore?
    private var pairs: [Int32: PartitionPair] = [:]
    /// Pairs given up in a rebalance, kept (committed to their resume offsets) in case the
    /// same partitions come back, which then need no rebuild.
    private var retained: [Int32: PartitionPair] = [:]
    private let profiles = ProfileTable()
    private var ownerOfMarket: [Identifier: PartitionPair] = [:]
    private var lagGauges: [TopicPartition: Gauge] = [:]
    /// The input topics' names as C strings, compared with each record's.
    private let ordersTopicName: [CChar]
    private let couriersTopicName: [CChar]
    private var nextCatchUpPublish_ns: UInt64 = 0
    /// - Parameter onPublished: called on the producer's thread for each acknowledged
    ///   ranking with its delay from the CreateTime of the record that triggered it.
    public init(settings: EngineSettings, metricsFactory: MetricsFactory,
                logger: Logger = Logger(label: "amore.engine"),
                onPublished: (@Sendable (_ delay_ns: Int64) -> Void)? = nil) {
        self.settings = settings
        self.logger = logger
        self.onPublished = onPublished
        ordersTopicName = Array(settings.topics.orders.utf8CString)
        couriersTopicName = Array(settings.topics.couriers.utf8CString)
        status = EngineStatus(board: RankingBoard(), zonePrecision: settings.market.zonePrecision)
        metrics = EngineMetrics(factory: metricsFactory, topics: settings.topics)
    }

    /// Asks `run` to finish: stop fetching, publish what is pending, flush, commit, leave
    /// the group. Any thread.
    public func stop() {
        stopRequested.store(true, ordering: .relaxed)
        status.markStopping()
    }

    /// Runs until `stop` (returns) or a failure it cannot continue past (throws).
    public func run() throws {
        try LibrdkafkaVersion.check()
        let ordersPartitions = try Self.prepareTopics(settings, logger: logger)
        let publisher = try Publisher(settings: settings, metrics: metrics, logger: logger, onPublished: onPublished)
        self.publisher = publisher
        if settings.checkpoints {
            var configuration = consumerConfiguration()
            configuration["group.id"] = "\(settings.groupID).checkpoints"
            checkpoints = try CheckpointStore(topic: settings.topics.checkpoints, partitions: Int32(ordersPartitions),
                                              consumerConfiguration: configuration, logger: logger)
        }
        defer { checkpoints?.close() }

        let profileConsumer = try loadProfiles()
        defer { try? profileConsumer.close() }
        if stopRequested.load(ordering: .relaxed) { return try finish(publisher) }

        let consumer = try Consumer(
            configuration: groupConfiguration(), logger: logger,
            onError: { [logger, status] error in
                if error.code == KafkaError.allBrokersDownCode { status.markKafkaUnreachable() }
                logger.warning("consumer: \(error)")
            },
            // Weak: the consumer can outlive the engine by a moment (closing it in the
            // engine's deinit calls back), and then there is nothing to restore or revoke.
            startOffsets: { [weak self] partitions in self?.startOffsets(for: partitions) ?? partitions },
            onRebalance: { [weak self] event in self?.rebalance(event) })
        self.consumer = consumer
        try consumer.subscribe(to: [settings.topics.orders, settings.topics.couriers])
        logger.info("engine running", metadata: [
            "group": "\(settings.groupID)", "partitions": "\(ordersPartitions)",
            "orders": "\(settings.topics.orders)", "couriers": "\(settings.topics.couriers)",
        ])

        var nextCommit_ns: UInt64 = 0
        var nextGauges_ns: UInt64 = 0
        while !stopRequested.load(ordering: .relaxed) {
            let now_ns = Clock.monotonic_ns()
            status.markLoop(now_ns: now_ns)
            try consumer.poll(maxRecords: settings.maxBatchRecords, timeout_ms: 5) { batch in try take(batch) }
            try profileConsumer.poll(maxRecords: settings.maxBatchRecords, timeout_ms: 0) { batch in
                for record in batch { try take(profile: record) }
            }
            for pair in pairs.values { try drain(pair) }
            try refreshIdlePairs(now_ns: Clock.monotonic_ns())
            try writeDueCheckpoints(now_ns: now_ns)
            if now_ns >= nextCommit_ns {
                nextCommit_ns = now_ns + UInt64(settings.commitInterval_ms) * 1_000_000
                try commitAcknowledged(now_ns: now_ns)
            }
            if now_ns >= nextGauges_ns {
                nextGauges_ns = now_ns + 1_000_000_000
                updateGauges()
                checkKafkaIsBack(consumer)
            }
        }
        logger.info("engine stopping: publishing what is pending, committing, leaving the group")
        try finish(publisher)
    }

    /// After librdkafka said all brokers are down, once a second: a metadata answer (at
    /// most 200 ms of this loop, which has nothing to fetch meanwhile) means Kafka is back.
    private func checkKafkaIsBack(_ consumer: Consumer) {
        guard status.kafkaMarkedUnreachable, (try? consumer.metadata(topic: settings.topics.orders, timeout_ms: 200)) != nil else { return }
        status.markKafkaReachable()
        logger.notice("Kafka is reachable again")
    }

    // MARK: Start-up

    /// Creates missing topics and checks that orders and couriers are co-partitioned.
    /// Creates the topics that are missing (inputs with `inputRetention_ms`, profiles and
    /// rankings compacted) and checks that orders and couriers are co-partitioned;
    /// returns their partition count. Producers of input (`amore simulate`) call it too.
    public static func prepareTopics(_ settings: EngineSettings, logger: Logger) throws -> Int {
        let admin = try Admin(configuration: settings.kafka, logger: logger)
        let topics = settings.topics
        let inputRetention = ["retention.ms": String(settings.inputRetention_ms)]
        func topic(_ name: String, partitions: Int32? = nil, _ configs: [String: String] = [:]) -> NewTopic {
            NewTopic(name, partitions: partitions ?? settings.partitions, replicationFactor: settings.replicationFactor, configs: configs)
        }
        // Only what is missing: where topics are managed elsewhere (Terraform), the engine
        // needs no Create permission, and a start-up asks only for metadata.
        let present = Set(try admin.describeCluster(timeout_ms: 10_000).topics.map(\.name))
        try admin.createTopics([
            topic(topics.restaurants, ["cleanup.policy": "compact"]),
            topic(topics.orders, inputRetention),
            topic(topics.couriers, inputRetention),
            topic(topics.rankings, ["cleanup.policy": "compact"]),
            topic(topics.deadLetters),
        ].filter { !present.contains($0.name) })
        let inputs = try admin.waitForTopics([topics.orders, topics.couriers], timeout_ms: 30_000)
        let orders = inputs.topic(topics.orders)?.partitions.count ?? 0
        let couriers = inputs.topic(topics.couriers)?.partitions.count ?? 0
        guard orders == couriers else {
            throw EngineError.notCoPartitioned(orders: topics.orders, ordersPartitions: orders,
                                               couriers: topics.couriers, couriersPartitions: couriers)
        }
        // One checkpoint partition per pair (two slots each survive compaction): created
        // with the inputs' count, whatever --partitions says.
        try admin.createTopics([topic(topics.checkpoints, partitions: Int32(orders), ["cleanup.policy": "compact"])]
            .filter { !present.contains($0.name) })
        let metadata = try admin.waitForTopics(topics.all, timeout_ms: 30_000)
        let checkpointPartitions = metadata.topic(topics.checkpoints)?.partitions.count ?? 0
        if settings.checkpoints && checkpointPartitions < orders {
            throw EngineError.tooFewCheckpointPartitions(topic: topics.checkpoints, partitions: checkpointPartitions,
                                                         inputPartitions: orders)
        }
        return orders
    }

    /// Reads every restaurant profile to the end of its topic (the instance is ready after
    /// this); the consumer returned keeps the table current afterwards.
    private func loadProfiles() throws -> Consumer {
        var configuration = consumerConfiguration()
        configuration["group.id"] = "\(settings.groupID).profiles"
        configuration["enable.auto.commit"] = "false"
        configuration["enable.partition.eof"] = "true"
        let consumer = try Consumer(configuration: configuration, logger: logger,
                                    onError: { [logger] error in logger.warning("profile consumer: \(error)") })
        let partitions = try consumer.metadata(topic: settings.topics.restaurants, timeout_ms: 10_000)
            .topic(settings.topics.restaurants)?.partitions.map(\.id) ?? []
        try consumer.assign(partitions.map { TopicPartition(settings.topics.restaurants, $0, offset: KafkaOffset.beginning) })
        var remaining = Set(partitions)
        let start_ns = Clock.monotonic_ns()
        while !remaining.isEmpty && !stopRequested.load(ordering: .relaxed) {
            status.markLoop(now_ns: Clock.monotonic_ns())
            try consumer.poll(maxRecords: settings.maxBatchRecords, timeout_ms: 100) { batch in
                for record in batch { try take(profile: record) }
                for end in batch.reachedEnd { remaining.remove(end.partition) }
            }
        }
        status.markProfilesLoaded()
        logger.info("restaurant profiles loaded", metadata: [
            "restaurants": "\(profiles.restaurantCount)", "markets": "\(profiles.marketCount)",
            "ms": "\((Clock.monotonic_ns() - start_ns) / 1_000_000)",
        ])
        return consumer
    }

    private func consumerConfiguration() -> KafkaConfiguration {
        settings.kafka.withDefaults(settings.consumerProperties)
    }

    private func groupConfiguration() -> KafkaConfiguration {
        var configuration = consumerConfiguration()
        configuration["group.id"] = settings.groupID
        configuration["enable.auto.commit"] = "false"
        // Range assignment gives partition N of both co-partitioned topics to one member.
        if configuration["partition.assignment.strategy"] == nil {
            configuration["partition.assignment.strategy"] = "range"
        }
        return configuration
    }

    // MARK: Rebalancing (engine thread, inside poll)

    /// Partitions kept from before start where they stopped; gained ones from their
    /// pair's checkpoint, or from the beginning.
    private func startOffsets(for partitions: [TopicPartition]) -> [TopicPartition] {
        let restored = restoreGainedPairs(partitions)
        return partitions.map { partition in
            var start = partition
            if let pair = retained[partition.partition], let side = side(of: partition.topic),
               let resume = pair.resumeOffset(side) {
                start.offset = resume
            } else if let checkpoint = restored[partition.partition], let side = side(of: partition.topic) {
                start.offset = side == .orders ? checkpoint.ordersOffset : checkpoint.couriersOffset
            } else {
                start.offset = KafkaOffset.beginning
            }
            return start
        }
    }

    /// Restores every gained pair (neither owned nor retained) from its newest usable
    /// checkpoint: complete, valid, written with these market settings, at or before the
    /// committed offsets. A pair without one is left to a full replay; the reasons are
    /// logged and counted. The restored pairs replay to the committed offsets from the
    /// checkpoint's offsets.
    private func restoreGainedPairs(_ partitions: [TopicPartition]) -> [Int32: PairCheckpoint] {
        guard let checkpoints, let consumer else { return [:] }
        let gained = Set(partitions.map(\.partition)).filter { pairs[$0] == nil && retained[$0] == nil }
        guard !gained.isEmpty else { return [:] }
        let committed: [TopicPartition]
        do {
            committed = try consumer.committed(partitions.filter { gained.contains($0.partition) }, timeout_ms: 10_000)
        } catch {
            logger.warning("restore: committed offsets unavailable (\(error)); gained pairs replay in full")
            return [:]
        }
        func committedOffset(_ topic: String, _ number: Int32) -> Int64? {
            committed.first { $0.topic == topic && $0.partition == number }.map { max(0, $0.offset ?? 0) }
        }
        var restored: [Int32: PairCheckpoint] = [:]
        for number in gained.sorted() {
            // Both sides or neither: a checkpoint holds the pair's merged state.
            guard let ordersEnd = committedOffset(settings.topics.orders, number),
                  let couriersEnd = committedOffset(settings.topics.couriers, number) else { continue }
            let start_ns = Clock.monotonic_ns()
            do {
                let (found, passedOver) = try checkpoints.newest(pair: number) { bytes in
                    let header = try PairCheckpoint.header(of: bytes)
                    guard header.partition == number else { throw CheckpointError.invalid(field: "partition", offset: 0) }
                    guard header.inputs == checkpointInputs else {
                        throw CheckpointError.incomplete("written for other input topics (\(header.inputs.split(separator: "\n")))")
                    }
                    guard header.ordersOffset <= ordersEnd && header.couriersOffset <= couriersEnd else {
                        throw CheckpointError.incomplete(
                            "ahead of the committed offsets (orders \(header.ordersOffset) > \(ordersEnd) or couriers \(header.couriersOffset) > \(couriersEnd))")
                    }
                    return (header, try PairCheckpoint.markets(of: bytes, board: status.board, settings: settings.market))
                }
                for rejection in passedOver {
                    metrics.checkpointsPassedOver.increment()
                    logger.warning("restore: passed over a checkpoint", metadata: [
                        "pair": "\(number)", "checkpoint": "\(String(rejection.checkpointID, radix: 16))",
                        "reason": "\(rejection.reason)",
                    ])
                }
                guard let (checkpoint, markets) = found else {
                    logger.info("restore: no usable checkpoint; replaying the pair's retained input", metadata: ["pair": "\(number)"])
                    continue
                }
                let pair = PartitionPair(partition: number)
                pair.markets = markets
                for (id, market) in markets {
                    ownerOfMarket[id] = pair
                    // Profiles read since the checkpoint (older ones are refused as late).
                    profiles.apply(to: market)
                }
                pair.orders.nextOffset = checkpoint.ordersOffset
                pair.orders.replayEnd = ordersEnd
                pair.couriers.nextOffset = checkpoint.couriersOffset
                pair.couriers.replayEnd = couriersEnd
                pair.restore = RestoreProgress(source: .checkpoint, started_ns: start_ns, ordersStart: checkpoint.ordersOffset,
                                               couriersStart: checkpoint.couriersOffset)
                pair.lastCheckpoint_ns = start_ns
                pairs[number] = pair
                restored[number] = checkpoint
                metrics.checkpointLoad.recordNanoseconds(Int64(Clock.monotonic_ns() - start_ns))
                logger.info("restore: checkpoint loaded", metadata: [
                    "pair": "\(number)", "markets": "\(markets.count)",
                    "written_at_ms": "\(checkpoint.writtenAt_ms)",
                    "replay": "orders \(checkpoint.ordersOffset)..<\(ordersEnd), couriers \(checkpoint.couriersOffset)..<\(couriersEnd)",
                    "load_ms": "\((Clock.monotonic_ns() - start_ns) / 1_000_000)",
                ])
            } catch {
                logger.warning("restore: checkpoints of the pair unreadable (\(error)); replaying its retained input",
                               metadata: ["pair": "\(number)"])
            }
        }
        return restored
    }

    private func rebalance(_ event: RebalanceEvent) {
        do {
            switch event {
            case .assigned(let partitions, _):
                try assign(partitions)
            case .revoked(let partitions, let lost):
                try revoke(partitions, lost: lost)
            case .failed(let error):
                logger.error("rebalance failed: \(error)")
            }
        } catch {
            logger.error("rebalance: \(error); stopping")
            stop()
        }
    }

    private func assign(_ partitions: [TopicPartition]) throws {
        guard let consumer else { return }
        let committed = try consumer.committed(partitions, timeout_ms: 10_000)
        var rebuilt: [String] = []
        var kept: [String] = []
        for partition in committed {
            guard let side = side(of: partition.topic) else { continue }
            let pair: PartitionPair
            if let existing = pairs[partition.partition] {
                pair = existing
            } else if let old = retained.removeValue(forKey: partition.partition) {
                pair = old
                pairs[partition.partition] = old
                kept.append("\(partition.partition)")
            } else {
                pair = PartitionPair(partition: partition.partition)
                pair.restore = RestoreProgress(source: .fullReplay, started_ns: Clock.monotonic_ns(), ordersStart: 0, couriersStart: 0)
                pairs[partition.partition] = pair
                rebuilt.append("\(partition.partition)")
            }
            pair.assign(side, committed: partition.offset ?? 0)
            lagGauges[TopicPartition(partition.topic, partition.partition)] = metrics.lag(topic: partition.topic,
                                                                                         partition: partition.partition)
        }
        for (_, pair) in retained {
            for market in pair.markets.keys { ownerOfMarket[market] = nil }
        }
        retained.removeAll()
        logger.info("partitions assigned", metadata: [
            "partitions": "\(partitions.map(\.description))", "rebuilding": "\(rebuilt)", "kept": "\(kept)",
            "replay_to": "\(committed.map { "\($0.topic)[\($0.partition)]@\($0.offset ?? 0)" })",
        ])
    }

    /// Before the partitions move away: publish and commit everything they produced, so
    /// the next owner resumes exactly where this one stopped. When the group has already
    /// moved on (`lost`, or a commit refused for that reason), nothing may be committed:
    /// the pairs' state is dropped and whoever owns them next (this instance included)
    /// restores from a checkpoint and the committed offsets.
    private func revoke(_ partitions: [TopicPartition], lost: Bool) throws {
        let numbers = Set(partitions.map(\.partition))
        if lost { return drop(numbers, partitions, why: "the group moved on without this instance (session timed out or fenced)") }
        do {
            try commitEverything()
        } catch let error as KafkaError where error.meansGroupMembershipLost {
            return drop(numbers, partitions, why: "the group refused the final commit (\(error))")
        }
        // Exactly at what was just committed: the next owner replays nothing.
        for number in numbers.sorted() {
            if let pair = pairs[number], pair.restore == nil { try writeCheckpoint(pair, now_ns: Clock.monotonic_ns()) }
        }
        if checkpoints != nil { try publisher?.flush() }
        for number in numbers {
            guard let pair = pairs.removeValue(forKey: number) else { continue }
            // Keep the state (and where it resumes) in case the partition comes back.
            pair.orders.release()
            pair.couriers.release()
            retained[number] = pair
        }
        for partition in partitions {
            lagGauges.removeValue(forKey: TopicPartition(partition.topic, partition.partition))?.destroy()
        }
        logger.info("partitions revoked", metadata: ["partitions": "\(partitions.map(\.description))"])
    }

    /// Forgets lost pairs: their state is ahead of what was committed, so it must not be
    /// kept for a return; their uncommitted positions leave the ledger.
    private func drop(_ numbers: Set<Int32>, _ partitions: [TopicPartition], why: String) {
        publisher?.ledger.forget(partitions: numbers)
        for number in numbers {
            guard let pair = pairs.removeValue(forKey: number) ?? retained.removeValue(forKey: number) else { continue }
            for market in pair.markets.keys { ownerOfMarket[market] = nil }
        }
        for partition in partitions {
            lagGauges.removeValue(forKey: TopicPartition(partition.topic, partition.partition))?.destroy()
        }
        logger.warning("partitions lost: their state is dropped and will be restored from a checkpoint and the committed offsets",
                       metadata: ["partitions": "\(partitions.map(\.description))", "why": "\(why)"])
    }

    // MARK: Input

    private func side(of topic: String) -> PartitionPair.SideName? {
        topic == settings.topics.orders ? .orders : topic == settings.topics.couriers ? .couriers : nil
    }

    /// The side a record's topic feeds, by its name's characters, so that no String is
    /// made per record. Not by the name's address (as before): librdkafka may free a
    /// topic's handle when a rebalance takes its partitions away, and the memory can then
    /// hold another name.
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
        var orderCounts = [Int](repeating: 0, count: OrderEventType.allCases.count)
        var pingCounts = [Int](repeating: 0, count: CourierStatus.allCases.count)
        let now_ns = Clock.monotonic_ns()
        // A batch is mostly runs of one partition: look its pair up once per run.
        var current: (partition: Int32, pair: PartitionPair?) = (-1, nil)
        for record in batch {
            guard let side = side(of: record) else { continue }
            if record.partition != current.partition { current = (record.partition, pairs[record.partition]) }
            guard let pair = current.pair else { continue }
            pair.lastInput_ns = now_ns
            let context = context(of: record)
            let value = record.value ?? Self.noBytes
            do throws(EventRejection) {
                switch side {
                case .orders:
                    pair.orders.nextOffset = record.offset + 1
                    let event = try EventDecoder.decodeOrderEvent(value, context: context)
                    orderCounts[Int(event.type.rawValue)] += 1
                    pair.orders.events.append(PendingEvent(event: event, offset: record.offset, createTime_ms: context.timestamp_ms))
                case .couriers:
                    pair.couriers.nextOffset = record.offset + 1
                    let ping = try EventDecoder.decodeCourierPing(value, context: context)
                    pingCounts[Int(ping.status.rawValue)] += 1
                    pair.couriers.events.append(PendingEvent(event: ping, offset: record.offset, createTime_ms: context.timestamp_ms))
                }
            } catch {
                // Dead-lettered when first read; a replay of it was dead-lettered before.
                if record.offset >= pair.replayEnd(side) { try deadLetter(record, error) }
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
            try deadLetter(record, error)
            return
        }
        metrics.recordsIn[settings.topics.restaurants]?[0].increment()
        guard profiles.update(profile) else { return }
        status.restaurants.update(profile)
        if let pair = ownerOfMarket[profile.marketID], let market = pair.markets[profile.marketID] {
            market.state.apply(profile)
        }
    }

    // MARK: Processing

    /// Applies the pair's events in event-time order, as far as the merge allows.
    private func drain(_ pair: PartitionPair) throws {
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
        while let side = pair.nextSide(isReadToEnd: isReadToEnd) {
            switch side {
            case .orders: try apply(pair.orders.events.removeFirst(), from: .orders, of: pair, &cursor)
            case .couriers: try apply(pair.couriers.events.removeFirst(), from: .couriers, of: pair, &cursor)
            }
        }
        if !pair.deferredZones.isEmpty && !isCatchingUp(pair, .orders) && !isCatchingUp(pair, .couriers) {
            try publish(pair.takeDeferredZones(), createTime_ms: 0)
        }
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
            market = self.market(pending.event.marketID, in: pair)
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

    private func isCatchingUp(_ pair: PartitionPair, _ side: PartitionPair.SideName) -> Bool {
        guard pair.isAssigned(side), let next = pair.nextOffset(side), let marks = watermarks(pair, side) else { return false }
        return marks.high - next + Int64(pair.bufferedCount(side)) > Int64(settings.catchUpLag)
    }

    /// Sends what catching-up pairs held back, so that a checkpoint taken next covers it.
    private func publishDeferred() throws {
        for pair in pairs.values where !pair.deferredZones.isEmpty {
            try publish(pair.takeDeferredZones(), createTime_ms: 0)
        }
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
        consumer?.cachedWatermarks(topic: topic(of: side), partition: pair.partition)
    }

    private func market(_ id: Identifier, in pair: PartitionPair) -> MarketBox {
        if let market = pair.markets[id] { return market }
        let market = MarketBox(MarketState(marketID: id, board: status.board, settings: settings.market))
        profiles.apply(to: market)
        pair.markets[id] = market
        ownerOfMarket[id] = pair
        return market
    }

    /// Brings a quiet pair's rankings up to its last event (instead of waiting for an
    /// event that crosses the next resolution step), once its input has been read to the
    /// end and nothing arrived for `idleRefresh_ms`.
    private func refreshIdlePairs(now_ns: UInt64) throws {
        let quiet_ns = UInt64(settings.idleRefresh_ms) * 1_000_000
        for pair in pairs.values where pair.hasUnrefreshedEvents && pair.bufferedCount == 0
            && now_ns &- pair.lastInput_ns >= quiet_ns {
            guard (!pair.orders.isAssigned || isReadToEnd(pair, .orders))
                && (!pair.couriers.isAssigned || isReadToEnd(pair, .couriers)) else { continue }
            pair.hasUnrefreshedEvents = false
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

    // MARK: Checkpoints

    /// What a checkpoint's offsets refer to.
    private var checkpointInputs: String { "\(settings.topics.orders)\n\(settings.topics.couriers)" }

    /// Checkpoints every owned pair whose state changed `checkpointInterval_ms` ago or
    /// more, and every pair unchanged for `checkpointRefresh_ms`. Between drains: each
    /// pair's state is exactly its input before its resume offsets.
    private func writeDueCheckpoints(now_ns: UInt64) throws {
        guard checkpoints != nil else { return }
        let interval_ns = UInt64(settings.checkpointInterval_ms) * 1_000_000
        let refresh_ns = UInt64(settings.checkpointRefresh_ms) * 1_000_000
        for pair in pairs.values where pair.restore == nil {
            let since_ns = now_ns &- pair.lastCheckpoint_ns
            if (pair.changedSinceCheckpoint && since_ns >= interval_ns) || since_ns >= refresh_ns {
                try writeCheckpoint(pair, now_ns: now_ns)
            }
        }
    }

    private func writeCheckpoint(_ pair: PartitionPair, now_ns: UInt64) throws {
        guard let checkpoints, let publisher, pair.orders.isAssigned && pair.couriers.isAssigned else { return }
        let start_ns = Clock.monotonic_ns()
        let (_, bytes) = PairCheckpoint.encode(pair, inputs: checkpointInputs, settings: settings.market, writtenAt_ms: Clock.wall_ms(),
                                               capacity: pair.lastCheckpointBytes + 4_096)
        try publisher.sendCheckpoint(checkpoints.chunks(of: bytes, pair: pair.partition))
        pair.changedSinceCheckpoint = false
        pair.lastCheckpoint_ns = now_ns
        pair.lastCheckpointBytes = bytes.count
        metrics.checkpointWrite.recordNanoseconds(Int64(Clock.monotonic_ns() - start_ns))
        metrics.checkpointBytes(partition: pair.partition).record(bytes.count)
    }

    // MARK: Output

    private func publish(_ zones: [GeohashCell], createTime_ms: Int64) throws {
        try publisher?.publish(zones, board: status.board, createTime_ms: createTime_ms)
    }

    private func deadLetter(_ record: ConsumerRecord, _ rejection: EventRejection) throws {
        try publisher?.deadLetter(record, rejection)
    }

    // MARK: Commits

    /// Where each owned partition resumes: everything before it is applied.
    private func checkpoint() -> [TopicPartition] {
        var offsets: [TopicPartition] = []
        for pair in pairs.values {
            if pair.orders.isAssigned, let resume = pair.orders.resumeOffset {
                offsets.append(TopicPartition(settings.topics.orders, pair.partition, offset: resume))
            }
            if pair.couriers.isAssigned, let resume = pair.couriers.resumeOffset {
                offsets.append(TopicPartition(settings.topics.couriers, pair.partition, offset: resume))
            }
        }
        return offsets
    }

    /// Closes the current epoch and commits the newest checkpoint whose publications are
    /// all acknowledged (asynchronously: a later commit supersedes a lost one). While
    /// pairs catch up, their held-back zones go out every `catchUpPublishInterval_ms`,
    /// and no checkpoint is taken in between (it would pass unpublished changes).
    private func commitAcknowledged(now_ns: UInt64) throws {
        guard let ledger = publisher?.ledger else { return }
        if let failure = ledger.failure { throw EngineError.publicationFailed(failure) }
        let holding = pairs.values.contains { !$0.deferredZones.isEmpty }
        let interval_ns = UInt64(settings.catchUpPublishInterval_ms) * 1_000_000
        if holding && nextCatchUpPublish_ns == 0 {
            // A catch-up began: its first publication is one interval away, like the rest
            // (publishing at once sent zones that were superseded within the interval).
            nextCatchUpPublish_ns = now_ns + interval_ns
        } else if holding && now_ns >= nextCatchUpPublish_ns {
            nextCatchUpPublish_ns = now_ns + interval_ns
            try publishDeferred()
            ledger.closeEpoch(checkpoint: checkpoint())
        } else if !holding {
            nextCatchUpPublish_ns = 0
            ledger.closeEpoch(checkpoint: checkpoint())
        }
        if let offsets = ledger.takeCommittable(), !offsets.isEmpty {
            try consumer?.commit(offsets, async: true)
        }
    }

    /// Flushes every publication and commits synchronously where the owned partitions stand.
    private func commitEverything() throws {
        guard let publisher else { return }
        try publishDeferred()
        let ledger = publisher.ledger
        ledger.closeEpoch(checkpoint: checkpoint())
        try publisher.flush()
        if let offsets = ledger.takeCommittable(), !offsets.isEmpty {
            try consumer?.commit(offsets, async: false)
        }
    }

    private func finish(_ publisher: Publisher) throws {
        defer { status.markStopping() }
        if let consumer {
            try commitEverything()
            try consumer.close()  // leaves the group; the revoke callback finds nothing new
        }
        try publisher.flush()
        logger.info("engine stopped")
    }

    private func updateGauges() {
        var restaurants = 0
        var couriers = 0
        var zones = 0
        var markets = 0
        for pair in pairs.values {
            for market in pair.markets.values {
                restaurants += market.state.restaurantCount
                couriers += market.state.courierCount
                zones += market.state.zoneCount
                markets += 1
            }
            for side in [PartitionPair.SideName.orders, .couriers] {
                guard let gauge = lagGauges[TopicPartition(topic(of: side), pair.partition)],
                      let marks = watermarks(pair, side) else { continue }
                gauge.record(max(0, marks.high - (pair.resumeOffset(side) ?? marks.low)))
            }
        }
        var restoring: [String] = []
        let now_ns = Clock.monotonic_ns()
        for pair in pairs.values.sorted(by: { $0.partition < $1.partition }) {
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
