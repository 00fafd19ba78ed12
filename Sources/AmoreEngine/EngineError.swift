import AmoreKafka

/// Why the engine refused to start or stopped.
public enum EngineError: Error, CustomStringConvertible {
    /// Orders and couriers must have equal partition counts so that partition N of both
    /// (one market's events) lands on the same instance.
    case notCoPartitioned(orders: String, ordersPartitions: Int, couriers: String, couriersPartitions: Int)
    /// The checkpoints topic has fewer partitions than the inputs: a pair's checkpoints
    /// live in the partition of the pair's number.
    case tooFewCheckpointPartitions(topic: String, partitions: Int, inputPartitions: Int)
    /// A ranking or dead letter could not be delivered: offsets after it stay uncommitted,
    /// and the engine stops so that a restart replays from the last commit.
    case publicationFailed(KafkaError)
    /// The checkpoint topic's partition could not be read to its end in time.
    case checkpointReadTimedOut(topic: String, partition: Int32)

    public var description: String {
        switch self {
        case let .notCoPartitioned(orders, ordersPartitions, couriers, couriersPartitions):
            return "topics \(orders) (\(ordersPartitions) partitions) and \(couriers) (\(couriersPartitions) partitions) "
                + "are not co-partitioned: a market's orders and courier pings must meet on one instance, "
                + "so both topics need the same partition count"
        case let .tooFewCheckpointPartitions(topic, partitions, inputPartitions):
            return "topic \(topic) has \(partitions) partitions but the inputs have \(inputPartitions): a pair's checkpoints "
                + "live in the partition of its number, so it needs at least \(inputPartitions) (or run with --no-checkpoints)"
        case let .checkpointReadTimedOut(topic, partition):
            return "reading checkpoints from \(topic)[\(partition)] did not reach its end in 30 s"
        case let .publicationFailed(error):
            return "a publication was not delivered (\(error)); stopping so that a restart replays from the last commit"
        }
    }
}
