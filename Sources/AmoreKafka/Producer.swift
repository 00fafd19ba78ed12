import CRdKafka
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Sends keyed records with headers and timestamps to Kafka.
///
/// Defaults (each overridable by setting the property): idempotence on, the
/// Java-compatible `murmur2_random` partitioner (so producers in any language put a key
/// on the same partition), `linger.ms=5` batching.
///
/// `onDelivery` runs once per record, in librdkafka's order and never on two threads at
/// once: usually on the producer's own reporting thread, but also on a thread waiting in
/// `send` (queue full: `queue.buffering.max.messages`) or `flush`. It must not call `send`.
public final class Producer: Sendable {
    public static let defaultProperties: [String: String] = [
        "enable.idempotence": "true",
        "partitioner": "murmur2_random",
        "linger.ms": "5",
    ]

    let client: RDKafkaClient
    private let poller: RDKafkaPollThread
    private let closed = Atomic<Bool>(false)
    private let topics = Mutex<[String: ProducerTopic]>([:])

    public init(configuration: KafkaConfiguration,
                logger: Logger = Logger(label: "amore.kafka.producer"),
                onError: (@Sendable (KafkaError) -> Void)? = nil,
                onDelivery: (@Sendable (DeliveryReport) -> Void)? = nil) throws {
        let callbacks = RDKafkaCallbacks(logger: logger, onError: onError, onDelivery: onDelivery)
        client = try RDKafkaClient(type: RD_KAFKA_PRODUCER,
                                   configuration: configuration.withDefaults(Self.defaultProperties),
                                   callbacks: callbacks) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf, producerDeliveryCallback)
        }
        poller = RDKafkaPollThread(client: client)
    }

    deinit {
        poller.stop()
        if !closed.load(ordering: .acquiring) {
            rd_kafka_flush(client.handle, 10_000)
        }
    }

    /// The handle for `name`, created on first use and cached.
    public func topic(_ name: String) throws -> ProducerTopic {
        if let topic = topics.withLock({ $0[name] }) { return topic }
        let topic = try ProducerTopic(name: name, client: client)
        return topics.withLock { cache in
            if let existing = cache[name] { return existing }
            cache[name] = topic
            return topic
        }
    }

    /// Enqueues one record; its fate arrives later as a `DeliveryReport` carrying `token`.
    ///
    /// - Parameters:
    ///   - partition: nil lets the partitioner choose from the key.
    ///   - key, value: copied before `send` returns; nil is a null key / a tombstone.
    ///   - timestamp_ms: the record's CreateTime; 0 means now.
    public func send(to topic: ProducerTopic, partition: Int32? = nil,
                     key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
                     headers: [RecordHeader] = [], timestamp_ms: Int64 = 0, token: UInt = 0) throws {
        if closed.load(ordering: .relaxed) { throw KafkaError.closed("producer") }
        let headerList = headers.isEmpty ? nil : Self.makeHeaders(headers)
        var err: rd_kafka_resp_err_t
        repeat {
            err = amore_produce(client.handle, topic.handle,
                                partition ?? RDKafkaConstants.partitionUnassigned,
                                RDKafkaConstants.messageFlagCopy,
                                key?.baseAddress, key?.count ?? 0,
                                value?.baseAddress, value?.count ?? 0,
                                headerList, timestamp_ms,
                                UnsafeMutableRawPointer(bitPattern: token))
            // Queue full: free space by serving delivery reports here, as a hand-written
            // loop would, unless the reporting thread is already doing so.
            if err == RD_KAFKA_RESP_ERR__QUEUE_FULL, poller.serve(timeout_ms: 10) == nil { usleep(100) }
        } while err == RD_KAFKA_RESP_ERR__QUEUE_FULL
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            if let headerList { rd_kafka_headers_destroy(headerList) }
            throw KafkaError(err, context: "send to \(topic.name)")
        }
    }

    /// `send` for byte arrays and strings' UTF-8, by topic name.
    public func send(to topicName: String, partition: Int32? = nil, key: [UInt8]?, value: [UInt8]?,
                     headers: [RecordHeader] = [], timestamp_ms: Int64 = 0, token: UInt = 0) throws {
        let topic = try topic(topicName)
        try withOptionalBytes(key) { key in
            try withOptionalBytes(value) { value in
                try send(to: topic, partition: partition, key: key, value: value,
                         headers: headers, timestamp_ms: timestamp_ms, token: token)
            }
        }
    }

    /// Records enqueued or in flight, not yet reported.
    public var pendingCount: Int { Int(rd_kafka_outq_len(client.handle)) }

    /// Waits until every record sent so far has been reported.
    public func flush(timeout_ms: Int32 = 30_000) throws {
        // rd_kafka_flush serves delivery reports itself: keep the reporting thread out meanwhile.
        let err = poller.exclusively { rd_kafka_flush(client.handle, timeout_ms) }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw client.explained(KafkaError(err, message: "\(pendingCount) records still pending after \(timeout_ms) ms", context: "producer flush"))
        }
    }

    /// Flushes, then stops the reporting thread. Later sends throw.
    public func close(timeout_ms: Int32 = 30_000) throws {
        guard closed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        defer { poller.stop() }
        try flush(timeout_ms: timeout_ms)
    }

    /// Metadata as this producer's connection sees it.
    public func metadata(topic: String? = nil, timeout_ms: Int32 = 5_000) throws -> ClusterMetadata {
        try client.metadata(topic: topic, timeout_ms: timeout_ms)
    }

    private static func makeHeaders(_ headers: [RecordHeader]) -> OpaquePointer {
        let list = rd_kafka_headers_new(headers.count)!
        for header in headers {
            if let value = header.value {
                value.withUnsafeBytes { bytes in
                    _ = rd_kafka_header_add(list, header.name, -1, bytes.baseAddress, bytes.count)
                }
            } else {
                _ = rd_kafka_header_add(list, header.name, -1, nil, 0)
            }
        }
        return list
    }
}

@inline(__always)
private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) throws -> R) rethrows -> R {
    guard let bytes else { return try body(nil) }
    return try bytes.withUnsafeBytes { try body($0) }
}

private let producerDeliveryCallback: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = { _, message, opaque in
    guard let message, let callbacks = RDKafkaCallbacks.from(opaque), let onDelivery = callbacks.onDelivery else { return }
    let record = message.pointee
    onDelivery(DeliveryReport(token: UInt(bitPattern: record._private), partition: record.partition,
                              offset: record.offset, errorCode: record.err.rawValue))
}
