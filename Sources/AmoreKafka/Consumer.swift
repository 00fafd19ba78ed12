import CRdKafka
import Logging
import Synchronization

/// Reads records from Kafka, as a member of a consumer group (`subscribe`) or from
/// partitions chosen by the caller (`assign`).
///
/// Offsets are stored by the application (`enable.auto.offset.store=false` unless set):
/// a record counts as consumed when the caller says so with `store` or `commit`, never
/// merely because it was fetched. Auto-commit (librdkafka's default) then commits only
/// what was stored; turn it off to commit only explicitly.
///
/// With `partitionQueues: true` each assigned partition gets its own `PartitionQueue`
/// (see `RebalanceEvent.assigned`), so one thread can own one partition. Rebalance
/// events and errors still arrive through `poll` on the consumer itself: keep polling it.
public final class Consumer: @unchecked Sendable {
    // @unchecked: `queue` is an immutable pointer to a thread-safe librdkafka queue.
    public static let defaultProperties: [String: String] = [
        "enable.auto.offset.store": "false",
    ]

    let client: RDKafkaClient
    private let queue: OpaquePointer
    private let partitionQueues: Bool
    private let closed = Atomic<Bool>(false)

    /// The rebalance listener given to `subscribe`, held weakly (it usually owns the
    /// consumer); it also hears the revoke that `close` causes.
    private let listener: ListenerSlot

    /// - Parameter onError: errors librdkafka reports outside any call (all brokers
    ///   down, a failed commit), on the polling thread.
    public init(configuration: KafkaConfiguration,
                partitionQueues: Bool = false,
                logger: Logger = Logger(label: "amore.kafka.consumer"),
                onError: (@Sendable (KafkaError) -> Void)? = nil) throws {
        var configuration = configuration.withDefaults(Self.defaultProperties)
        // librdkafka needs a group id even for manual assignment (offset storage is per group).
        if configuration["group.id"] == nil { configuration["group.id"] = "amore-unnamed" }
        let listener = ListenerSlot()
        self.listener = listener
        let callbacks = RDKafkaCallbacks(
            logger: logger, onError: onError,
            onRebalance: Self.rebalanceHandler(partitionQueues: partitionQueues, listener: listener))
        client = try RDKafkaClient(type: RD_KAFKA_CONSUMER, configuration: configuration, callbacks: callbacks) { conf in
            rd_kafka_conf_set_rebalance_cb(conf, consumerRebalanceCallback)
            rd_kafka_conf_set_offset_commit_cb(conf, consumerCommitCallback)
        }
        rd_kafka_poll_set_consumer(client.handle)
        queue = rd_kafka_queue_get_consumer(client.handle)
        self.partitionQueues = partitionQueues
    }

    deinit {
        if !closed.load(ordering: .acquiring) {
            rd_kafka_consumer_close(client.handle)
        }
        rd_kafka_queue_destroy(queue)
    }

    /// Joins the group for `topics`. `listener` (held weakly: keep it alive while
    /// subscribed) decides where gained partitions start and hears every rebalance, on
    /// the polling thread; without one, partitions start at their committed offsets.
    public func subscribe(to topics: [String], listener: (any RebalanceListener)? = nil) throws {
        self.listener.set(listener)
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for topic in topics { rd_kafka_topic_partition_list_add(list, topic, RDKafkaConstants.partitionUnassigned) }
        try check(rd_kafka_subscribe(client.handle, list), "subscribe to \(topics)")
    }

    /// Reads exactly these partitions, from each one's `offset` (or the committed one).
    /// Returns their own queues when the consumer was created with `partitionQueues`.
    @discardableResult
    public func assign(_ partitions: [TopicPartition]) throws -> [PartitionQueue] {
        let queues = try detachedQueues(partitions)
        try RDKafkaTopicPartitionList.with(partitions.map { p in
            var p = p
            if p.offset == nil { p.offset = RDKafkaConstants.offsetStored }
            return p
        }) { list in
            try check(rd_kafka_assign(client.handle, list), "assign \(partitions)")
        }
        return queues
    }

    /// Up to `maxRecords` records (of partitions without their own queue), waiting at
    /// most `timeout_ms` for the first; serves rebalance events and errors on the way.
    public func poll<R>(maxRecords: Int = 1_000, timeout_ms: Int32, _ body: (RecordBatch) throws -> R) rethrows -> R {
        try RDKafkaQueue.poll(queue, callbacks: client.callbacks, maxRecords: maxRecords, timeout_ms: timeout_ms, body)
    }

    /// Marks `record` consumed: its offset + 1 is committed next.
    public func store(_ record: ConsumerRecord) throws {
        if let error = rd_kafka_offset_store_message(record.message) {
            throw KafkaError(consuming: error, context: "store offset of \(record.topic)[\(record.partition)]@\(record.offset)")
        }
    }

    /// Stores offsets (each the *next* offset to read) for the next commit.
    public func store(_ offsets: [TopicPartition]) throws {
        try RDKafkaTopicPartitionList.with(offsets) { list in
            try check(rd_kafka_offsets_store(client.handle, list), "store offsets")
            if let error = RDKafkaTopicPartitionList.firstError(in: list, context: "store offset") { throw error }
        }
    }

    /// Commits `offsets` (each the next offset to read), or everything stored when nil.
    /// A synchronous commit returns once the group coordinator has accepted it.
    public func commit(_ offsets: [TopicPartition]? = nil, async: Bool = false) throws {
        let err: rd_kafka_resp_err_t
        if let offsets {
            err = RDKafkaTopicPartitionList.with(offsets) { rd_kafka_commit(client.handle, $0, async ? 1 : 0) }
        } else {
            err = rd_kafka_commit(client.handle, nil, async ? 1 : 0)
        }
        if err == RD_KAFKA_RESP_ERR__NO_OFFSET { return }  // nothing new to commit
        try check(err, "commit")
    }

    /// The group's committed offsets for `partitions` (offset nil where none).
    public func committed(_ partitions: [TopicPartition], timeout_ms: Int32 = 5_000) throws -> [TopicPartition] {
        try RDKafkaTopicPartitionList.with(partitions) { list in
            try check(rd_kafka_committed(client.handle, list, timeout_ms), "fetch committed offsets")
            return RDKafkaTopicPartitionList.partitions(of: list)
        }
    }

    /// Stops fetching `partitions` (backpressure) until `resume`.
    public func pause(_ partitions: [TopicPartition]) throws {
        try RDKafkaTopicPartitionList.with(partitions) { list in
            try check(rd_kafka_pause_partitions(client.handle, list), "pause")
        }
    }

    public func resume(_ partitions: [TopicPartition]) throws {
        try RDKafkaTopicPartitionList.with(partitions) { list in
            try check(rd_kafka_resume_partitions(client.handle, list), "resume")
        }
    }

    /// Moves each partition's fetch position to its `offset`.
    public func seek(_ partitions: [TopicPartition], timeout_ms: Int32 = 5_000) throws {
        try RDKafkaTopicPartitionList.with(partitions) { list in
            if let error = rd_kafka_seek_partitions(client.handle, list, timeout_ms) {
                throw KafkaError(consuming: error, context: "seek")
            }
            if let error = RDKafkaTopicPartitionList.firstError(in: list, context: "seek") { throw error }
        }
    }

    /// The partitions currently assigned to this consumer.
    public func assignment() throws -> [TopicPartition] {
        var list: RDKafkaTopicPartitionList.Pointer?
        try check(rd_kafka_assignment(client.handle, &list), "assignment")
        guard let list else { return [] }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return RDKafkaTopicPartitionList.partitions(of: list)
    }

    /// The low and high watermarks of a partition as last seen in fetch responses (no
    /// request; what consumer lag is computed from). nil until a fetch has returned.
    public func cachedWatermarks(topic: String, partition: Int32) -> (low: Int64, high: Int64)? {
        var low: Int64 = 0
        var high: Int64 = 0
        let err = rd_kafka_get_watermark_offsets(client.handle, topic, partition, &low, &high)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { return nil }
        return (low, high)
    }

    /// The low and high watermarks of a partition, asked of its leader.
    public func watermarks(topic: String, partition: Int32, timeout_ms: Int32 = 5_000) throws -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        try check(rd_kafka_query_watermark_offsets(client.handle, topic, partition, &low, &high, timeout_ms),
                  "watermarks of \(topic)[\(partition)]")
        return (low, high)
    }

    public func metadata(topic: String? = nil, timeout_ms: Int32 = 5_000) throws -> ClusterMetadata {
        try client.metadata(topic: topic, timeout_ms: timeout_ms)
    }

    /// Leaves the group (revoked partitions are reported first) and commits what auto-commit
    /// has stored. Idempotent.
    public func close() throws {
        guard closed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        try check(rd_kafka_consumer_close(client.handle), "close consumer")
    }

    private func check(_ err: rd_kafka_resp_err_t, _ context: @autoclosure () -> String) throws {
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw client.explained(KafkaError(err, context: context())) }
    }

    private func detachedQueues(_ partitions: [TopicPartition]) throws -> [PartitionQueue] {
        guard partitionQueues else { return [] }
        return try partitions.map { p in
            guard let queue = PartitionQueue(client: client, topic: p.topic, partition: p.partition) else {
                throw KafkaError(RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION, context: "partition queue \(p)")
            }
            return queue
        }
    }

    /// What the C rebalance callback runs: detach queues, (un)assign, tell the owner.
    private static func rebalanceHandler(partitionQueues: Bool, listener slot: ListenerSlot)
        -> @Sendable (RDKafkaCallbacks, OpaquePointer, rd_kafka_resp_err_t, RDKafkaTopicPartitionList.Pointer) -> Void {
        return { callbacks, handle, err, list in
            let listener = slot.get()
            let onRebalance = { (event: RebalanceEvent) in listener?.rebalanced(event) }
            let cooperative = String(cString: rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE"
            let partitions = RDKafkaTopicPartitionList.partitions(of: list)
            switch err {
            case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
                var queues: [PartitionQueue] = []
                if partitionQueues, let client = callbacks.client {
                    queues = partitions.compactMap { PartitionQueue(client: client, topic: $0.topic, partition: $0.partition) }
                }
                let take = { (list: RDKafkaTopicPartitionList.Pointer) -> KafkaError? in
                    if cooperative {
                        return rd_kafka_incremental_assign(handle, list).map { KafkaError(consuming: $0, context: "incremental assign") }
                    }
                    let assignErr = rd_kafka_assign(handle, list)
                    return assignErr == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(assignErr, context: "assign")
                }
                let failure: KafkaError?
                if let listener {
                    failure = RDKafkaTopicPartitionList.with(listener.startOffsets(for: partitions).map { p in
                        var p = p
                        if p.offset == nil { p.offset = RDKafkaConstants.offsetStored }
                        return p
                    }, take)
                } else {
                    failure = take(list)
                }
                if let failure {
                    onRebalance(.failed(failure))
                    return
                }
                onRebalance(.assigned(partitions, queues: queues))
            case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
                onRebalance(.revoked(partitions, lost: rd_kafka_assignment_lost(handle) != 0))
                if cooperative {
                    if let error = rd_kafka_incremental_unassign(handle, list) { rd_kafka_error_destroy(error) }
                } else {
                    rd_kafka_assign(handle, nil)
                }
            default:
                onRebalance(.failed(KafkaError(err, context: "rebalance")))
                rd_kafka_assign(handle, nil)
            }
        }
    }
}

private let consumerRebalanceCallback: @convention(c) (OpaquePointer?, rd_kafka_resp_err_t, RDKafkaTopicPartitionList.Pointer?, UnsafeMutableRawPointer?) -> Void = { handle, err, list, opaque in
    guard let handle, let list, let callbacks = RDKafkaCallbacks.from(opaque) else { return }
    callbacks.onRebalance?(callbacks, handle, err, list)
}

private let consumerCommitCallback: @convention(c) (OpaquePointer?, rd_kafka_resp_err_t, RDKafkaTopicPartitionList.Pointer?, UnsafeMutableRawPointer?) -> Void = { _, err, list, opaque in
    guard let callbacks = RDKafkaCallbacks.from(opaque) else { return }
    if err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET {
        callbacks.onError(KafkaError(err, context: "offset commit"))
    } else if let list, let error = RDKafkaTopicPartitionList.firstError(in: list, context: "offset commit") {
        callbacks.onError(error)
    }
}

/// The listener of a subscription, weakly, behind a lock (set by `subscribe` on the
/// caller's thread, read by the rebalance callback on the polling thread).
final class ListenerSlot: Sendable {
    private struct Weak: ~Copyable { weak var listener: (any RebalanceListener)? }
    private let slot = Mutex(Weak())

    func set(_ listener: (any RebalanceListener)?) { slot.withLock { $0.listener = listener } }
    func get() -> (any RebalanceListener)? { slot.withLock { $0.listener } }
}
