import AmoreCore
import AmoreKafka
import CoreMetrics
import Logging

/// Partition ownership: the partition pairs this instance holds and the markets in them,
/// and what changes them, the group's rebalances. A gained pair starts from its newest
/// usable checkpoint (or replays its retained input); a revoked one is committed and
/// checkpointed exactly where it stands before it goes, and kept in case it comes back; a
/// lost one is dropped. Engine thread only: rebalances arrive inside `Consumer.poll`.
final class PartitionOwnership: RebalanceListener, @unchecked Sendable {
    // @unchecked: touched by the engine thread only (the one polling the consumer).
    private(set) var pairs: [Int32: PartitionPair] = [:]
    /// Pairs given up in a rebalance, kept (committed to their resume offsets) in case the
    /// same partitions come back, which then need no rebuild.
    private var retained: [Int32: PartitionPair] = [:]
    private var ownerOfMarket: [Identifier: PartitionPair] = [:]
    private(set) var lagGauges: [TopicPartition: Gauge] = [:]
    /// The committed offsets read while deciding where an assignment starts, for the
    /// assignment itself (one request per rebalance instead of two).
    private var committedAtAssignment: [TopicPartition]?

    private let consumer: Consumer
    private let commits: CommitScheduler
    private let checkpointer: Checkpointer?
    private let publisher: Publisher
    private let profiles: ProfileTable
    private let board: RankingBoard
    private let settings: EngineSettings
    private let metrics: EngineMetrics
    private let logger: Logger
    /// Called when a rebalance fails in a way the engine cannot continue past.
    private let onFailure: () -> Void

    init(consumer: Consumer, commits: CommitScheduler, checkpointer: Checkpointer?, publisher: Publisher, profiles: ProfileTable,
         board: RankingBoard, settings: EngineSettings, metrics: EngineMetrics, logger: Logger, onFailure: @escaping () -> Void) {
        self.consumer = consumer
        self.commits = commits
        self.checkpointer = checkpointer
        self.publisher = publisher
        self.profiles = profiles
        self.board = board
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
        self.onFailure = onFailure
    }

    // MARK: Markets

    /// The pair's state of market `id`, created (with the market's profiles) on its first event.
    func market(_ id: Identifier, in pair: PartitionPair) -> MarketBox {
        if let market = pair.markets[id] { return market }
        let market = MarketBox(MarketState(marketID: id, board: board, settings: settings.market))
        profiles.apply(to: market)
        pair.markets[id] = market
        ownerOfMarket[id] = pair
        return market
    }

    /// The state of market `id` when a pair this instance holds has it.
    func ownedMarket(_ id: Identifier) -> MarketBox? {
        ownerOfMarket[id]?.markets[id]
    }

    func side(of topic: String) -> PartitionPair.SideName? {
        topic == settings.topics.orders ? .orders : topic == settings.topics.couriers ? .couriers : nil
    }

    // MARK: RebalanceListener

    /// Partitions kept from before start where they stopped; gained ones from their
    /// pair's checkpoint, or from the beginning.
    func startOffsets(for partitions: [TopicPartition]) -> [TopicPartition] {
        do {
            committedAtAssignment = try consumer.committed(partitions, timeout_ms: 10_000)
        } catch {
            logger.warning("restore: committed offsets unavailable (\(error)); gained pairs replay in full")
            committedAtAssignment = nil
        }
        let restored = restoreGainedPairs(partitions, committed: committedAtAssignment ?? [])
        return partitions.map { partition in
            var start = partition
            if let pair = retained[partition.partition], let side = side(of: partition.topic),
               let resume = pair.resumeOffset(side) {
                start.offset = resume
            } else if let pair = restored[partition.partition], let side = side(of: partition.topic) {
                start.offset = pair.nextOffset(side)
            } else {
                start.offset = KafkaOffset.beginning
            }
            return start
        }
    }

    func rebalanced(_ event: RebalanceEvent) {
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
            onFailure()
        }
    }

    // MARK: Gaining

    /// Restores every gained pair (neither owned nor retained) that has a usable
    /// checkpoint; the others are left to a full replay.
    private func restoreGainedPairs(_ partitions: [TopicPartition], committed: [TopicPartition]) -> [Int32: PartitionPair] {
        guard let checkpointer else { return [:] }
        func committedOffset(_ topic: String, _ number: Int32) -> Int64? {
            committed.first { $0.topic == topic && $0.partition == number }.map { max(0, $0.offset ?? 0) }
        }
        var restored: [Int32: PartitionPair] = [:]
        for number in Set(partitions.map(\.partition)).sorted() where pairs[number] == nil && retained[number] == nil {
            // Both sides or neither: a checkpoint holds the pair's merged state.
            guard let ordersEnd = committedOffset(settings.topics.orders, number),
                  let couriersEnd = committedOffset(settings.topics.couriers, number),
                  let pair = checkpointer.restore(pair: number, ordersEnd: ordersEnd, couriersEnd: couriersEnd, board: board)
            else { continue }
            for (id, market) in pair.markets {
                ownerOfMarket[id] = pair
                // Profiles read since the checkpoint (older ones are refused as late).
                profiles.apply(to: market)
            }
            pairs[number] = pair
            restored[number] = pair
        }
        return restored
    }

    private func assign(_ partitions: [TopicPartition]) throws {
        let committed = try committedAtAssignment ?? consumer.committed(partitions, timeout_ms: 10_000)
        committedAtAssignment = nil
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
            pair.assign(side, committed: partition.offset ?? 0, now_ns: Clock.monotonic_ns())
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

    // MARK: Giving up

    /// Before the partitions move away: publish and commit everything they produced, and
    /// checkpoint them exactly there, so the next owner resumes where this one stopped
    /// and replays nothing. When the group has already moved on (`lost`, or a commit
    /// refused for that reason), nothing may be committed: the pairs' state is dropped
    /// and whoever owns them next (this instance included) restores from a checkpoint and
    /// the committed offsets.
    private func revoke(_ partitions: [TopicPartition], lost: Bool) throws {
        let numbers = Set(partitions.map(\.partition))
        if lost { return drop(numbers, partitions, why: "the group moved on without this instance (session timed out or fenced)") }
        do {
            try commits.commitEverything(pairs.values)
        } catch let error as KafkaError where error.meansGroupMembershipLost {
            return drop(numbers, partitions, why: "the group refused the final commit (\(error))")
        }
        if let checkpointer {
            for number in numbers.sorted() {
                if let pair = pairs[number], pair.restore == nil { try checkpointer.write(pair, now_ns: Clock.monotonic_ns()) }
            }
            try publisher.flush()
        }
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
        publisher.ledger.forget(partitions: numbers)
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
}
