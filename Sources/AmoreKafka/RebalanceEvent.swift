/// A change of a group consumer's partitions, delivered on the thread that polls the
/// consumer, *before* revoked partitions move away (commit or hand off state then) and
/// right after assigned ones are taken on.
public enum RebalanceEvent: Sendable {
    /// `queues` holds each new partition's own queue when the consumer was created with
    /// `partitionQueues: true`, else it is empty and records arrive through `Consumer.poll`.
    case assigned([TopicPartition], queues: [PartitionQueue])
    case revoked([TopicPartition])
    /// The group could not complete a rebalance (e.g. assignment failed).
    case failed(KafkaError)
}
