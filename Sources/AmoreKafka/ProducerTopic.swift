import CRdKafka

/// A topic handle for producing, resolved once so that `send` skips the name lookup.
public final class ProducerTopic: @unchecked Sendable {
    // @unchecked: both pointers are immutable; librdkafka topic handles are thread-safe.
    public let name: String
    let handle: OpaquePointer
    let client: RDKafkaClient

    init(name: String, client: RDKafkaClient) throws {
        guard let handle = rd_kafka_topic_new(client.handle, name, nil) else {
            throw KafkaError(rd_kafka_last_error(), context: "topic handle '\(name)'")
        }
        self.name = name
        self.handle = handle
        self.client = client
    }

    deinit {
        rd_kafka_topic_destroy(handle)
    }
}
