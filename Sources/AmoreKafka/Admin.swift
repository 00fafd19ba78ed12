import CRdKafka
import Logging

/// Topic administration and cluster inspection.
public final class Admin: Sendable {
    let client: RDKafkaClient

    /// Connection errors are logged and named in the error of the request that fails.
    public init(configuration: KafkaConfiguration, logger: Logger = Logger(label: "amore.kafka.admin")) throws {
        let callbacks = RDKafkaCallbacks(logger: logger, onError: nil)
        client = try RDKafkaClient(type: RD_KAFKA_PRODUCER, configuration: configuration, callbacks: callbacks, servesEvents: false)
    }

    /// Brokers and all topics; throws (naming the last broker error) if no broker answers in time.
    public func describeCluster(timeout_ms: Int32 = 5_000) throws -> ClusterMetadata {
        try client.metadata(topic: nil, timeout_ms: timeout_ms)
    }

    /// Creates `topics`; with `ifNotExists` an existing topic is not an error.
    public func createTopics(_ topics: [NewTopic], ifNotExists: Bool = true, timeout_ms: Int32 = 10_000) throws {
        guard !topics.isEmpty else { return }
        var newTopics: [OpaquePointer?] = []
        defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
        var errorText = [CChar](repeating: 0, count: 512)
        for topic in topics {
            guard let newTopic = rd_kafka_NewTopic_new(topic.name, topic.partitions, topic.replicationFactor, &errorText, errorText.count) else {
                throw KafkaError(RD_KAFKA_RESP_ERR__INVALID_ARG, message: String(decodingCString: errorText), context: "create topic '\(topic.name)'")
            }
            newTopics.append(newTopic)
            for (key, value) in topic.configs.sorted(by: { $0.key < $1.key }) {
                let err = rd_kafka_NewTopic_set_config(newTopic, key, value)
                if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    throw KafkaError(err, context: "create topic '\(topic.name)' config '\(key)'")
                }
            }
        }
        try runAdminRequest(RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms: timeout_ms, context: "create topics") { options, queue in
            newTopics.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_CreateTopics(client.handle, buffer.baseAddress, buffer.count, options, queue)
            }
        } results: { event in
            var count = 0
            let results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count)
            try Self.checkTopicResults(results, count: count, verb: "create",
                                       tolerated: ifNotExists ? [RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS] : [])
        }
    }

    /// Waits until every topic in `topics` is known with leaders for all its partitions
    /// (at least `minimumPartitions` of them), polling metadata; returns the last metadata.
    @discardableResult
    public func waitForTopics(_ topics: [String], minimumPartitions: Int = 1, timeout_ms: Int32 = 10_000) throws -> ClusterMetadata {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout_ms))
        var lastProblem = "no metadata yet"
        while true {
            let remaining = (deadline - ContinuousClock.now) / .milliseconds(1)
            do {
                let metadata = try client.metadata(topic: nil, timeout_ms: Int32(max(1, min(remaining, 2_000))))
                let missing = topics.filter { name in
                    guard let topic = metadata.topic(name), topic.errorCode == 0,
                          topic.partitions.count >= minimumPartitions else { return true }
                    return topic.partitions.contains { $0.leader < 0 || $0.errorCode != 0 }
                }
                if missing.isEmpty { return metadata }
                lastProblem = "not ready: \(missing)"
            } catch let error as KafkaError {
                lastProblem = error.description
            }
            if ContinuousClock.now >= deadline {
                throw KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, message: "topics \(topics) not ready after \(timeout_ms) ms (\(lastProblem))",
                                 context: "wait for topics")
            }
            try? Task.checkCancellation()
            usleepMilliseconds(50)
        }
    }

    /// Throws the first per-topic failure of an admin result that is not `tolerated`.
    private static func checkTopicResults(_ results: UnsafeMutablePointer<OpaquePointer?>?, count: Int, verb: String,
                                          tolerated: [rd_kafka_resp_err_t]) throws {
        for index in 0..<count {
            guard let result = results?[index] else { continue }
            let err = rd_kafka_topic_result_error(result)
            if err == RD_KAFKA_RESP_ERR_NO_ERROR || tolerated.contains(err) { continue }
            let name = String(cString: rd_kafka_topic_result_name(result))
            let text = rd_kafka_topic_result_error_string(result).map { String(cString: $0) }
            throw KafkaError(err, message: text, context: "\(verb) topic '\(name)'")
        }
    }

    private func runAdminRequest(_ operation: rd_kafka_admin_op_t, timeout_ms: Int32, context: String,
                                 send: (OpaquePointer?, OpaquePointer?) -> Void,
                                 results: (OpaquePointer) throws -> Void) throws {
        let options = rd_kafka_AdminOptions_new(client.handle, operation)
        defer { rd_kafka_AdminOptions_destroy(options) }
        var errorText = [CChar](repeating: 0, count: 512)
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, &errorText, errorText.count)
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, &errorText, errorText.count)
        let queue = rd_kafka_queue_new(client.handle)
        defer { rd_kafka_queue_destroy(queue) }
        send(options, queue)
        // librdkafka enforces the request timeout itself; the margin only guards against a lost event.
        guard let event = rd_kafka_queue_poll(queue, timeout_ms + 5_000) else {
            throw client.explained(KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, context: context))
        }
        defer { rd_kafka_event_destroy(event) }
        let err = rd_kafka_event_error(event)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let text = rd_kafka_event_error_string(event).map { String(cString: $0) }
            throw client.explained(KafkaError(err, message: text, context: context))
        }
        try results(event)
    }
}

#if canImport(Glibc)
import Glibc
#endif

func usleepMilliseconds(_ ms: Int) {
    usleep(useconds_t(ms * 1_000))
}
