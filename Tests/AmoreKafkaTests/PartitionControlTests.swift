import AmoreKafka
import AmoreTestSupport
import Foundation
import Testing

/// Per-partition queues, pause/resume and seek against the real broker.
@Suite struct PartitionControlTests {
    static func produce(_ servers: String, _ topic: String, partition: Int32, count: Int, tag: String) throws {
        let producer = try Producer(configuration: KafkaConfiguration(bootstrapServers: servers))
        for i in 0..<count {
            try producer.send(to: topic, partition: partition, key: nil, value: Array("\(tag)\(i)".utf8))
        }
        try producer.close()
    }

    /// Drains `poll` until `count` records arrived or 10 s passed; returns (partition, value).
    static func drain(count: Int, _ poll: ((RecordBatch) -> Void) -> Void) -> [(Int32, String)] {
        var got: [(Int32, String)] = []
        _ = eventually(timeout_s: 10) {
            poll { batch in for r in batch { got.append((r.partition, String(decoding: r.value!, as: UTF8.self))) } }
            return got.count >= count
        }
        return got
    }

    @Test func assignedPartitionQueuesCarryOnlyTheirOwnPartition() throws {
        let (servers, topic) = try TestBroker.freshTopic("queues", partitions: 2)
        try Self.produce(servers, topic, partition: 0, count: 30, tag: "a")
        try Self.produce(servers, topic, partition: 1, count: 20, tag: "b")
        let consumer = try Consumer(configuration: KafkaConfiguration(bootstrapServers: servers, TestBroker.fastGroup), partitionQueues: true)
        let queues = try consumer.assign([TopicPartition(topic, 0, offset: KafkaOffset.beginning),
                                          TopicPartition(topic, 1, offset: KafkaOffset.beginning)])
        #expect(queues.map(\.topicPartition) == [TopicPartition(topic, 0), TopicPartition(topic, 1)])
        let zero = Self.drain(count: 30) { body in queues[0].poll(timeout_ms: 100, body) }
        let one = Self.drain(count: 20) { body in queues[1].poll(timeout_ms: 100, body) }
        #expect(zero.map(\.1) == (0..<30).map { "a\($0)" })
        #expect(zero.allSatisfy { $0.0 == 0 })
        #expect(one.map(\.1) == (0..<20).map { "b\($0)" })
        var shared = 0
        consumer.poll(timeout_ms: 300) { shared += $0.count }
        #expect(shared == 0, "nothing reaches the consumer's own queue")
        try consumer.close()
    }

    @Test func groupAssignmentHandsOutPartitionQueues() throws {
        let (servers, topic) = try TestBroker.freshTopic("groupqueues", partitions: 3)
        for p in Int32(0)..<3 { try Self.produce(servers, topic, partition: p, count: 10, tag: "p\(p)-") }
        var properties = TestBroker.fastGroup
        properties["group.id"] = "gq-\(UUID().uuidString.prefix(8))"
        let received = Locked<[PartitionQueue]>([])
        let consumer = try Consumer(configuration: KafkaConfiguration(bootstrapServers: servers, properties), partitionQueues: true)
        let listener = RebalanceRecorder { event in
            if case .assigned(_, let queues) = event { received.withLock { $0.append(contentsOf: queues) } }
        }
        defer { withExtendedLifetime(listener) {} }
        try consumer.subscribe(to: [topic], listener: listener)
        var leaked = 0
        #expect(eventually(timeout_s: 20) {
            consumer.poll(timeout_ms: 100) { leaked += $0.count }
            return received.value.count == 3
        })
        for queue in received.value {
            let p = queue.topicPartition.partition
            let got = Self.drain(count: 10) { body in queue.poll(timeout_ms: 100, body) }
            #expect(got.map(\.1) == (0..<10).map { "p\(p)-\($0)" })
        }
        consumer.poll(timeout_ms: 200) { leaked += $0.count }
        #expect(leaked == 0)
        try consumer.close()
    }

    /// A poll hands over what has arrived as soon as something has, instead of waiting
    /// out its timeout for a full batch (librdkafka's batch call alone would: 10 s here).
    @Test func pollReturnsArrivedRecordsWithoutWaitingForAFullBatch() throws {
        let (servers, topic) = try TestBroker.freshTopic("promptpoll", partitions: 1)
        try Self.produce(servers, topic, partition: 0, count: 5, tag: "r")
        let consumer = try Consumer(configuration: KafkaConfiguration(bootstrapServers: servers, TestBroker.fastGroup))
        try consumer.assign([TopicPartition(topic, 0, offset: KafkaOffset.beginning)])
        var got: [String] = []
        var slowest = Duration.zero
        #expect(eventually(timeout_s: 30) {
            let started = ContinuousClock.now
            consumer.poll(maxRecords: 10_000, timeout_ms: 10_000) { batch in
                for record in batch { got.append(String(decoding: record.value!, as: UTF8.self)) }
            }
            slowest = max(slowest, ContinuousClock.now - started)
            return got.count >= 5
        })
        #expect(got == (0..<5).map { "r\($0)" })
        #expect(slowest < .seconds(5), "each poll returned once records were there, not after its 10 s timeout")
        try consumer.close()
    }

    @Test func pauseStopsDeliveryResumeRestartsItSeekRewinds() throws {
        let (servers, topic) = try TestBroker.freshTopic("pause", partitions: 1)
        try Self.produce(servers, topic, partition: 0, count: 10, tag: "x")
        let consumer = try Consumer(configuration: KafkaConfiguration(bootstrapServers: servers, TestBroker.fastGroup))
        let partition = TopicPartition(topic, 0)
        try consumer.assign([TopicPartition(topic, 0, offset: KafkaOffset.beginning)])
        let first = Self.drain(count: 10) { body in consumer.poll(timeout_ms: 100, body) }
        #expect(first.map(\.1) == (0..<10).map { "x\($0)" })

        try consumer.pause([partition])
        try Self.produce(servers, topic, partition: 0, count: 5, tag: "y")
        var whilePaused = 0
        for _ in 0..<10 { consumer.poll(timeout_ms: 100) { whilePaused += $0.count } }
        #expect(whilePaused == 0, "a paused partition delivers nothing")
        try consumer.resume([partition])
        let afterResume = Self.drain(count: 5) { body in consumer.poll(timeout_ms: 100, body) }
        #expect(afterResume.map(\.1) == (0..<5).map { "y\($0)" })

        try consumer.seek([TopicPartition(topic, 0, offset: 3)])
        let rewound = Self.drain(count: 12) { body in consumer.poll(timeout_ms: 100, body) }
        #expect(rewound.map(\.1) == (3..<10).map { "x\($0)" } + (0..<5).map { "y\($0)" })
        let cached = consumer.cachedWatermarks(topic: topic, partition: 0)
        #expect(cached?.high == 15, "the high watermark from fetch responses")
        // Only the low mark is checked on request: Tansu answers ListOffsets LATEST with
        // the last batch's base offset + 1 (a known quirk of the local broker).
        #expect(try consumer.watermarks(topic: topic, partition: 0).low == 0)
        try consumer.close()
    }
}
