import AmoreCore
import AmoreKafka

/// Commit scheduling: which offsets may be committed (those whose publications are all
/// acknowledged, see `PublicationLedger`) and when, and the held-back publications of
/// pairs that are catching up. Engine thread only.
final class CommitScheduler {
    private let consumer: Consumer
    private let publisher: Publisher
    private let board: RankingBoard
    private let settings: EngineSettings
    private var nextCatchUpPublish_ns: UInt64 = 0

    init(consumer: Consumer, publisher: Publisher, board: RankingBoard, settings: EngineSettings) {
        self.consumer = consumer
        self.publisher = publisher
        self.board = board
        self.settings = settings
    }

    /// Closes the current epoch and commits the newest position whose publications are
    /// all acknowledged (asynchronously: a later commit supersedes a lost one). While
    /// pairs catch up, their held-back zones go out every `catchUpPublishInterval_ms`,
    /// and no position is taken in between (it would pass unpublished changes).
    func commitAcknowledged(_ pairs: Dictionary<Int32, PartitionPair>.Values, now_ns: UInt64) throws {
        let ledger = publisher.ledger
        if let failure = ledger.failure { throw EngineError.publicationFailed(failure) }
        let holding = pairs.contains { !$0.deferredZones.isEmpty }
        let interval_ns = UInt64(settings.catchUpPublishInterval_ms) * 1_000_000
        if holding && nextCatchUpPublish_ns == 0 {
            // A catch-up began: its first publication is one interval away, like the rest
            // (publishing at once sent zones that were superseded within the interval).
            nextCatchUpPublish_ns = now_ns + interval_ns
        } else if holding && now_ns >= nextCatchUpPublish_ns {
            nextCatchUpPublish_ns = now_ns + interval_ns
            try publishDeferred(pairs)
            ledger.closeEpoch(checkpoint: resumeOffsets(pairs))
        } else if !holding {
            nextCatchUpPublish_ns = 0
            ledger.closeEpoch(checkpoint: resumeOffsets(pairs))
        }
        if let offsets = ledger.takeCommittable(), !offsets.isEmpty {
            try consumer.commit(offsets, async: true)
        }
    }

    /// Publishes what is held back, flushes every publication and commits synchronously
    /// where the owned partitions stand.
    func commitEverything(_ pairs: Dictionary<Int32, PartitionPair>.Values) throws {
        try publishDeferred(pairs)
        let ledger = publisher.ledger
        ledger.closeEpoch(checkpoint: resumeOffsets(pairs))
        try publisher.flush()
        if let offsets = ledger.takeCommittable(), !offsets.isEmpty {
            try consumer.commit(offsets, async: false)
        }
    }

    /// Sends what catching-up pairs held back, so that a checkpoint taken next covers it.
    private func publishDeferred(_ pairs: Dictionary<Int32, PartitionPair>.Values) throws {
        for pair in pairs where !pair.deferredZones.isEmpty {
            try publisher.publish(pair.takeDeferredZones(), board: board, createTime_ms: 0)
        }
    }

    /// Where each owned partition resumes: everything before it is applied.
    private func resumeOffsets(_ pairs: Dictionary<Int32, PartitionPair>.Values) -> [TopicPartition] {
        var offsets: [TopicPartition] = []
        for pair in pairs {
            if pair.orders.isAssigned, let resume = pair.orders.resumeOffset {
                offsets.append(TopicPartition(settings.topics.orders, pair.partition, offset: resume))
            }
            if pair.couriers.isAssigned, let resume = pair.couriers.resumeOffset {
                offsets.append(TopicPartition(settings.topics.couriers, pair.partition, offset: resume))
            }
        }
        return offsets
    }
}
