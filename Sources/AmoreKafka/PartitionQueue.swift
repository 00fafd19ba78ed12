import CRdKafka

/// One assigned partition's own queue, detached from the consumer's shared queue so
/// that one thread can own one partition. Poll it from one thread at a time.
public final class PartitionQueue: @unchecked Sendable {
    // @unchecked: the queue pointer is immutable and librdkafka queues are thread-safe.
    public let topicPartition: TopicPartition
    let queue: OpaquePointer
    let client: RDKafkaClient

    init?(client: RDKafkaClient, topic: String, partition: Int32) {
        guard let queue = rd_kafka_queue_get_partition(client.handle, topic, partition) else { return nil }
        rd_kafka_queue_forward(queue, nil)
        self.queue = queue
        self.client = client
        self.topicPartition = TopicPartition(topic, partition)
    }

    deinit {
        rd_kafka_queue_destroy(queue)
    }

    /// Up to `maxRecords` records of this partition, waiting at most `timeout_ms` for the first.
    public func poll<R>(maxRecords: Int = 1_000, timeout_ms: Int32, _ body: (RecordBatch) throws -> R) rethrows -> R {
        try RDKafkaQueue.poll(queue, callbacks: client.callbacks, maxRecords: maxRecords, timeout_ms: timeout_ms, body)
    }
}
