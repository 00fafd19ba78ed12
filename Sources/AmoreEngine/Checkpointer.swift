import AmoreCore
import AmoreKafka
import Logging

/// Checkpoint scheduling and restore: writes each owned pair's checkpoint when it is due
/// (and when asked, on revoke and shutdown), and on gaining a pair finds its newest usable
/// checkpoint in the `CheckpointStore`. Engine thread only.
final class Checkpointer {
    private let store: CheckpointStore
    private let publisher: Publisher
    private let settings: EngineSettings
    private let metrics: EngineMetrics
    private let logger: Logger
    /// What a checkpoint's offsets refer to: a checkpoint of other topics is refused.
    private let inputs: String

    init(store: CheckpointStore, publisher: Publisher, settings: EngineSettings, metrics: EngineMetrics, logger: Logger) {
        self.store = store
        self.publisher = publisher
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
        inputs = "\(settings.topics.orders)\n\(settings.topics.couriers)"
    }

    func close() { store.close() }

    // MARK: Writing

    /// Checkpoints every pair (not restoring) whose state changed `checkpointInterval_ms`
    /// ago or more, and every pair unchanged for `checkpointRefresh_ms`. Between drains:
    /// each pair's state is exactly its input before its resume offsets.
    func writeDue(_ pairs: Dictionary<Int32, PartitionPair>.Values, now_ns: UInt64) throws {
        let interval_ns = UInt64(settings.checkpointInterval_ms) * 1_000_000
        let refresh_ns = UInt64(settings.checkpointRefresh_ms) * 1_000_000
        for pair in pairs where pair.restore == nil {
            let since_ns = now_ns &- pair.lastCheckpoint_ns
            if (pair.changedSinceCheckpoint && since_ns >= interval_ns) || since_ns >= refresh_ns {
                try write(pair, now_ns: now_ns)
            }
        }
    }

    /// Encodes the pair's state and sends it in chunks through the publisher (so commits
    /// wait for it like for rankings). A pair holding only one side has no merged state.
    func write(_ pair: PartitionPair, now_ns: UInt64) throws {
        guard pair.orders.isAssigned && pair.couriers.isAssigned else { return }
        let start_ns = Clock.monotonic_ns()
        let (_, bytes) = PairCheckpoint.encode(pair, inputs: inputs, settings: settings.market, writtenAt_ms: Clock.wall_ms(),
                                               capacity: pair.lastCheckpointBytes + 4_096)
        try publisher.sendCheckpoint(store.chunks(of: bytes, pair: pair.partition))
        pair.changedSinceCheckpoint = false
        pair.lastCheckpoint_ns = now_ns
        pair.lastCheckpointBytes = bytes.count
        metrics.checkpointWrite.recordNanoseconds(Int64(Clock.monotonic_ns() - start_ns))
        metrics.checkpointBytes(partition: pair.partition).record(bytes.count)
    }

    // MARK: Restoring

    /// The pair rebuilt from its newest usable checkpoint: complete, valid, written for
    /// these input topics and market settings, at or before the committed offsets
    /// (`ordersEnd`, `couriersEnd`). It replays from the checkpoint's offsets to the
    /// committed ones before it publishes. Nil (a full replay follows) when there is none;
    /// everything passed over is logged with its reason and counted.
    func restore(pair number: Int32, ordersEnd: Int64, couriersEnd: Int64, board: RankingBoard) -> PartitionPair? {
        let start_ns = Clock.monotonic_ns()
        do {
            let (found, passedOver) = try store.newest(pair: number) { bytes in
                let header = try PairCheckpoint.header(of: bytes)
                guard header.partition == number else { throw CheckpointError.invalid(field: "partition", offset: 0) }
                guard header.inputs == inputs else {
                    throw CheckpointError.incomplete("written for other input topics (\(header.inputs.split(separator: "\n")))")
                }
                guard header.ordersOffset <= ordersEnd && header.couriersOffset <= couriersEnd else {
                    throw CheckpointError.incomplete(
                        "ahead of the committed offsets (orders \(header.ordersOffset) > \(ordersEnd) or couriers \(header.couriersOffset) > \(couriersEnd))")
                }
                return (header, try PairCheckpoint.markets(of: bytes, board: board, settings: settings.market))
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
                return nil
            }
            let pair = PartitionPair(partition: number)
            pair.markets = markets
            pair.orders.nextOffset = checkpoint.ordersOffset
            pair.orders.replayEnd = ordersEnd
            pair.couriers.nextOffset = checkpoint.couriersOffset
            pair.couriers.replayEnd = couriersEnd
            pair.restore = RestoreProgress(source: .checkpoint, started_ns: start_ns, ordersStart: checkpoint.ordersOffset,
                                           couriersStart: checkpoint.couriersOffset)
            pair.lastCheckpoint_ns = start_ns
            metrics.checkpointLoad.recordNanoseconds(Int64(Clock.monotonic_ns() - start_ns))
            logger.info("restore: checkpoint loaded", metadata: [
                "pair": "\(number)", "markets": "\(markets.count)",
                "written_at_ms": "\(checkpoint.writtenAt_ms)",
                "replay": "orders \(checkpoint.ordersOffset)..<\(ordersEnd), couriers \(checkpoint.couriersOffset)..<\(couriersEnd)",
                "load_ms": "\((Clock.monotonic_ns() - start_ns) / 1_000_000)",
            ])
            return pair
        } catch {
            logger.warning("restore: checkpoints of the pair unreadable (\(error)); replaying its retained input",
                           metadata: ["pair": "\(number)"])
            return nil
        }
    }
}
