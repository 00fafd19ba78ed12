import CRdKafka

/// Brokers and topics as one broker reported them.
public struct ClusterMetadata: Sendable {
    public struct Broker: Sendable, Hashable {
        public let id: Int32
        public let host: String
        public let port: Int32
    }

    public struct Partition: Sendable, Hashable {
        public let id: Int32
        public let leader: Int32
        public let replicas: [Int32]
        public let errorCode: Int32
    }

    public struct Topic: Sendable {
        public let name: String
        public let partitions: [Partition]
        /// librdkafka's code for this topic (0, or e.g. UNKNOWN_TOPIC_OR_PART).
        public let errorCode: Int32
    }

    public let brokers: [Broker]
    public let topics: [Topic]

    public func topic(_ name: String) -> Topic? { topics.first { $0.name == name } }

    init(_ metadata: rd_kafka_metadata) {
        brokers = (0..<Int(metadata.broker_cnt)).map { index in
            let broker = metadata.brokers[index]
            return Broker(id: broker.id, host: String(cString: broker.host), port: broker.port)
        }
        topics = (0..<Int(metadata.topic_cnt)).map { index in
            let topic = metadata.topics[index]
            let partitions = (0..<Int(topic.partition_cnt)).map { p in
                let partition = topic.partitions[p]
                return Partition(id: partition.id, leader: partition.leader,
                                 replicas: (0..<Int(partition.replica_cnt)).map { partition.replicas[$0] },
                                 errorCode: partition.err.rawValue)
            }.sorted { $0.id < $1.id }
            return Topic(name: String(cString: topic.topic), partitions: partitions, errorCode: topic.err.rawValue)
        }
    }
}
