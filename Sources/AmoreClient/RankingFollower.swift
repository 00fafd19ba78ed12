import AmoreCore
import AmoreKafka
import Logging
import Synchronization

/// Follows the rankings topic into a local lock-free `RankingBoard`: the API tier's copy
/// of every live zone's ranking, read from any thread without locks.
///
/// Bootstrap reads only the topic's tail: every live zone is republished at least once per
/// heartbeat (60 s of event time), so the records of the last two heartbeats (plus a
/// margin for producers' clocks) hold the newest version of every live zone, however
/// long the topic. `TailSearch` finds where that tail starts in each partition; the
/// follower reads from there to the end seen at start, is then ready, and follows on.
/// It keeps the highest version of each zone: a record older than the one held (a
/// replayed or re-published one) never takes a zone back.
///
/// One thread (the caller of `run`) writes the board; `status` and `updates` are for
/// any thread.
public final class RankingFollower: @unchecked Sendable {
    // @unchecked: the mutable state is the run thread's alone; the rest is thread-safe.

    /// Where to follow and how much history to read at start.
    public struct Settings: Sendable {
        public var topic = "amore.rankings"
        /// The engine's heartbeat: every live zone is republished within it.
        public var heartbeat_ms = MarketSettings().heartbeat_ms
        /// Margin on top of two heartbeats for producers' clocks and publication delays.
        public var tailMargin_ms: Int64 = 15_000
        /// Ready only while at most this many records behind the topic's end.
        public var maxReadyLag_records: Int64 = 10_000
        /// Zones the board holds (its table is allocated up front: 2 × 320 bytes a zone).
        public var maxZones = 1 << 15

        public init() {}

        /// How much record time the bootstrap reads: two heartbeats and the margin.
        public var tail_ms: Int64 { 2 * heartbeat_ms + tailMargin_ms }
    }

    public let settings: Settings
    public let board: RankingBoard
    public let status: FollowerStatus
    let updates = ZoneUpdates()
    private let configuration: KafkaConfiguration
    private let logger: Logger
    private let stopRequested = Atomic<Bool>(false)
    private let pauseRequested = Atomic<Bool>(false)
    private let pausedNow = Atomic<Bool>(false)
    private var entries: [RankedRestaurant] = []
    /// Next offset to apply, per partition.
    private var positions: [Int32: Int64] = [:]

    /// - Parameter configuration: the cluster (bootstrap servers, security); the group id
    ///   is the follower's own (it commits nothing: every start reads the tail again).
    public init(configuration: KafkaConfiguration, settings: Settings = Settings(),
                logger: Logger = Logger(label: "amore.client")) {
        var configuration = configuration
        configuration["group.id"] = configuration["group.id"] ?? "amore-client"
        configuration["enable.auto.commit"] = "false"
        configuration["enable.partition.eof"] = "true"
        self.configuration = configuration
        self.settings = settings
        self.logger = logger
        // Restaurants and markets named by rankings: 262,144 (the directory is allocated up front, 72 bytes each).
        board = RankingBoard(maxEntriesPerZone: 50, maxZones: settings.maxZones, maxIdentifiers: 1 << 18)
        status = FollowerStatus(maxReadyLag_records: settings.maxReadyLag_records)
    }

    /// Asks `run` to return. Any thread.
    public func stop() {
        stopRequested.store(true, ordering: .relaxed)
        status.markStopping()
    }

    /// Holds the board where it is (stops fetching) until `resumeFollowing`: for an
    /// operator investigating what a server answered. Readiness turns false once the
    /// topic moves further ahead than the lag bound, so a load balancer drains it.
    public func pauseFollowing() { pauseRequested.store(true, ordering: .relaxed) }
    public func resumeFollowing() { pauseRequested.store(false, ordering: .relaxed) }
    /// Whether the follower has stopped fetching (a pause takes effect at its next loop,
    /// within ~50 ms; records fetched before it are still applied).
    public var isPaused: Bool { pausedNow.load(ordering: .acquiring) }

    /// Bootstraps, then follows until `stop`. Throws when the topic cannot be read.
    public func run() throws {
        let consumer = try Consumer(configuration: configuration, logger: logger,
                                    onError: { [logger] error in logger.warning("rankings consumer: \(error)") })
        defer {
            try? consumer.close()
            updates.finishAll()
        }
        let topic = settings.topic
        let start = ContinuousClock.now
        let partitions = try consumer.metadata(topic: topic, timeout_ms: 10_000).topic(topic)?.partitions.map(\.id) ?? []
        guard !partitions.isEmpty else {
            throw RankingFollowerError(description: "the rankings topic '\(topic)' does not exist (or has no partitions) on this cluster")
        }
        var ranges: [TailSearch.Range] = []
        for partition in partitions {
            let marks = try consumer.watermarks(topic: topic, partition: partition, timeout_ms: 10_000)
            ranges.append(TailSearch.Range(partition: partition, low: marks.low, high: marks.high))
        }
        let starts = try TailSearch.starts(consumer: consumer, topic: topic, ranges: ranges, tail_ms: settings.tail_ms,
                                           shouldStop: { stopRequested.load(ordering: .relaxed) })
        let searched = ContinuousClock.now
        logger.debug("rankings tail found", metadata: [
            "from": "\(ranges.map { "[\($0.partition)] \(starts[$0.partition] ?? $0.low) of \($0.low)..<\($0.high)" })",
        ])
        try consumer.assign(ranges.map { TopicPartition(topic, $0.partition, offset: starts[$0.partition] ?? $0.low) })
        for range in ranges { positions[range.partition] = starts[range.partition] ?? range.low }

        // Bootstrap: to the end seen at start (or the end a fetch reports, whichever first).
        var remaining = Set(ranges.filter { (starts[$0.partition] ?? $0.low) < $0.high }.map(\.partition))
        let ends = Dictionary(uniqueKeysWithValues: ranges.map { ($0.partition, $0.high) })
        var read = 0
        while !remaining.isEmpty && !stopRequested.load(ordering: .relaxed) {
            status.markLoop(now_ns: RankingFollowerClock.now_ns())
            consumer.poll(maxRecords: 2_000, timeout_ms: 100) { batch in
                read += batch.count
                for record in batch {
                    apply(record)
                    if record.offset + 1 >= ends[record.partition, default: 0] { remaining.remove(record.partition) }
                }
                for end in batch.reachedEnd { remaining.remove(end.partition) }
            }
        }
        let duration_ms = Self.milliseconds(ContinuousClock.now - start)
        updateLag(consumer: consumer, ranges: ranges, query: true)
        status.markBootstrapped(duration_ms: duration_ms, records: read)
        logger.info("rankings bootstrapped", metadata: [
            "topic": "\(topic)", "zones": "\(board.zoneCount)", "records_read": "\(read)",
            "records_in_topic": "\(ranges.reduce(0) { $0 + $1.high - $1.low })", "ms": "\(duration_ms)",
            "search_ms": "\(Self.milliseconds(searched - start))",
        ])

        // Follow.
        var paused = false
        var nextLag_ns: UInt64 = 0
        while !stopRequested.load(ordering: .relaxed) {
            let now_ns = RankingFollowerClock.now_ns()
            status.markLoop(now_ns: now_ns)
            let wantPaused = pauseRequested.load(ordering: .relaxed)
            if wantPaused != paused {
                let assigned = partitions.map { TopicPartition(topic, $0) }
                if wantPaused { try consumer.pause(assigned) } else { try consumer.resume(assigned) }
                paused = wantPaused
                pausedNow.store(paused, ordering: .releasing)
                logger.notice(paused ? "following paused" : "following resumed")
            }
            consumer.poll(maxRecords: 2_000, timeout_ms: 50) { batch in
                for record in batch { apply(record) }
            }
            if now_ns >= nextLag_ns {
                // A paused consumer fetches nothing, so its cached watermarks stand still:
                // ask the broker then.
                updateLag(consumer: consumer, ranges: ranges, query: paused)
                nextLag_ns = now_ns + 500_000_000
            }
        }
    }

    private func updateLag(consumer: Consumer, ranges: [TailSearch.Range], query: Bool) {
        var lag: Int64 = 0
        for range in ranges {
            var high = consumer.cachedWatermarks(topic: settings.topic, partition: range.partition)?.high ?? range.high
            if query, let asked = try? consumer.watermarks(topic: settings.topic, partition: range.partition, timeout_ms: 2_000) {
                high = max(high, asked.high)
            }
            lag += max(0, high - positions[range.partition, default: range.low])
        }
        status.setLag(lag)
    }

    /// Applies one record: a newer version of its zone replaces the board's.
    private func apply(_ record: ConsumerRecord) {
        positions[record.partition] = record.offset + 1
        guard let value = record.value else { return }  // a tombstone: nothing to rank
        let ranking: ZoneRanking
        do {
            ranking = try RankingDecoder.decode(value, key: record.key)
        } catch {
            status.addRejected(1)
            logger.debug("not a ranking", metadata: ["at": "\(record.topic)[\(record.partition)]@\(record.offset)", "why": "\(error)"])
            return
        }
        let zone = GeohashCell(ranking.zoneID)!  // checked by the decoder
        if let held = board.version(of: zone), held >= ranking.version { return }
        guard let market = board.register(ranking.marketID) else { return status.addRejected(1) }
        entries.removeAll(keepingCapacity: true)
        for entry in ranking.entries {
            guard let restaurant = board.register(entry.restaurantID) else { return status.addRejected(1) }
            entries.append(RankedRestaurant(restaurant: restaurant, deliveryETA_s: entry.deliveryETA_s, queueWait_s: entry.queueWait_s,
                                            prep_s: entry.prep_s, courierArrival_s: entry.courierArrival_s,
                                            handoff_s: entry.handoff_s, travel_s: entry.travel_s,
                                            carryOutReady_s: entry.carryOutReady_s, styles: entry.styles,
                                            confidence: entry.confidence, reason: entry.reason))
        }
        let published = entries.withUnsafeBufferPointer {
            board.publish(zone, market: market, version: ranking.version, asOf_ms: ranking.asOf_ms, entries: $0)
        }
        guard published else { return status.addRejected(1) }
        status.addApplied(1)
        if updates.hasSubscribers {
            updates.publish(ZoneUpdate(zone: zone, version: ranking.version, asOf_ms: ranking.asOf_ms, document: Array(value)))
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000
    }
}

/// The follower's monotonic clock, for liveness checks against `FollowerStatus`.
public enum RankingFollowerClock {
    private static let origin = ContinuousClock.now

    /// Monotonic nanoseconds since the first use (never 0).
    public static func now_ns() -> UInt64 {
        let origin = origin  // first: a lazily set origin must not be later than `now`
        let elapsed = ContinuousClock.now - origin
        return UInt64(elapsed.components.seconds) * 1_000_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000) + 1
    }
}

/// Why a follower cannot start.
public struct RankingFollowerError: Error, CustomStringConvertible {
    public let description: String
}
