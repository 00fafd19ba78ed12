/// A partition of a topic, with an optional offset (a position to start from, or a
/// committed position: the offset of the *next* record to read).
public struct TopicPartition: Sendable, Hashable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32
    public var offset: Int64?

    public init(_ topic: String, _ partition: Int32, offset: Int64? = nil) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }

    public var description: String {
        offset.map { "\(topic)[\(partition)]@\($0)" } ?? "\(topic)[\(partition)]"
    }
}

/// Symbolic offsets that librdkafka understands in place of a number.
public enum KafkaOffset {
    public static let beginning = RDKafkaConstants.offsetBeginning
    public static let end = RDKafkaConstants.offsetEnd
    public static let stored = RDKafkaConstants.offsetStored
}
