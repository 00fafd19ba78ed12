import CRdKafka

/// Conversions between `[TopicPartition]` and librdkafka's partition lists.
enum RDKafkaTopicPartitionList {
    typealias Pointer = UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    /// Calls `body` with a list that lives only for the call.
    static func with<R>(_ partitions: [TopicPartition], _ body: (Pointer) throws -> R) rethrows -> R {
        let list = rd_kafka_topic_partition_list_new(Int32(partitions.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for partition in partitions {
            let element = rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)!
            element.pointee.offset = partition.offset ?? RDKafkaConstants.offsetInvalid
        }
        return try body(list)
    }

    static func partitions(of list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [TopicPartition] {
        let count = Int(list.pointee.cnt)
        var result: [TopicPartition] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            let element = list.pointee.elems[index]
            let offset = element.offset == RDKafkaConstants.offsetInvalid ? nil : element.offset
            result.append(TopicPartition(String(cString: element.topic), element.partition, offset: offset))
        }
        return result
    }

    /// The first per-partition error in a list that librdkafka filled in, if any.
    static func firstError(in list: UnsafePointer<rd_kafka_topic_partition_list_t>, context: String) -> KafkaError? {
        for index in 0..<Int(list.pointee.cnt) {
            let element = list.pointee.elems[index]
            if element.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                return KafkaError(element.err, context: "\(context) \(String(cString: element.topic))[\(element.partition)]")
            }
        }
        return nil
    }
}
