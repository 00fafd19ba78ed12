/// A change of a group consumer's partitions, delivered on the thread that polls the
/// consumer, *before* revoked partitions move away (commit or hand off state then) and
/// right after assigned ones are taken on.
public enum RebalanceEvent: Sendable {
    /// `queues` holds each new partition's own queue when the consumer was created with
    /// `partitionQueues: true`, else it is empty and records arrive through `Consumer.poll`.
    case assigned([TopicPartition], queues: [PartitionQueue])
    /// `lost`: the group already moved on without this member (its session timed out, or
    /// it was fenced), so the partitions may belong to another member now: committing for
    /// them is refused, and the state built from them is ahead of what was committed.
    case revoked([TopicPartition], lost: Bool)
    /// The group could not complete a rebalance (e.g. assignment failed).
    case failed(KafkaError)
}

/// Takes part in a group consumer's rebalances (`Consumer.subscribe(to:listener:)`),
/// on the thread that polls the consumer.
public protocol RebalanceListener: AnyObject, Sendable {
    /// Where gained partitions start reading, decided before they are taken on: a
    /// partition with `offset` nil starts at its committed offset, `KafkaOffset.beginning`
    /// rebuilds state from its whole history. By default, the committed offsets.
    func startOffsets(for partitions: [TopicPartition]) -> [TopicPartition]
    /// Every change of the consumer's partitions; see `RebalanceEvent`.
    func rebalanced(_ event: RebalanceEvent)
}

extension RebalanceListener {
    public func startOffsets(for partitions: [TopicPartition]) -> [TopicPartition] { partitions }
}
