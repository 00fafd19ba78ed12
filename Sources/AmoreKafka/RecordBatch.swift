import CRdKafka

/// The records one `poll` returned, in fetch order (per-partition order is preserved).
///
/// Valid only inside the `poll` closure; the messages are released when it returns.
public struct RecordBatch: RandomAccessCollection {
    let messages: UnsafeBufferPointer<OpaquePointer?>
    /// Partitions whose end was reached in this poll (with `enable.partition.eof=true`).
    public let reachedEnd: [TopicPartition]

    public var startIndex: Int { 0 }
    public var endIndex: Int { messages.count }

    public subscript(position: Int) -> ConsumerRecord {
        ConsumerRecord(message: UnsafeMutablePointer<rd_kafka_message_t>(messages[position]!))
    }
}
