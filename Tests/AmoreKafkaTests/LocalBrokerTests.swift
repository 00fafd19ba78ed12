import AmoreKafka
import AmoreTestSupport
import AmoreLocalBroker
import Foundation
import Testing

/// The same start/stop code that `amore broker` and `./test` use.
@Suite struct LocalBrokerTests {
    @Test func startsAnswersMetadataAndStopsCompletely() throws {
        let broker = try LocalBroker.start()
        #expect(broker.bootstrapServers.hasPrefix("127.0.0.1:"))
        let admin = try Admin(configuration: KafkaConfiguration(bootstrapServers: broker.bootstrapServers))
        let metadata = try admin.describeCluster()
        #expect(metadata.brokers.count == 1)
        #expect(metadata.brokers.first?.port == Int32(broker.port))
        try admin.createTopics([NewTopic("local-broker-check", partitions: 2)])
        #expect(try admin.waitForTopics(["local-broker-check"], minimumPartitions: 2).topic("local-broker-check")?.partitions.count == 2)

        broker.stop()
        #expect(!broker.isRunning)
        let after = try Admin(configuration: KafkaConfiguration(bootstrapServers: broker.bootstrapServers), logger: quietLogger("probe"))
        #expect(throws: KafkaError.self, "nothing answers on the port once stopped") { try after.describeCluster(timeout_ms: 1_000) }
        broker.stop()  // idempotent
    }
}

/// Losing the broker mid-stream: no crash, no hang, the failure is surfaced.
@Suite struct BrokerLossTests {
    @Test func producerAndConsumerSurviveTheBrokerGoingAway() throws {
        let broker = try LocalBroker.start()
        let servers = broker.bootstrapServers
        let admin = try Admin(configuration: KafkaConfiguration(bootstrapServers: servers))
        try admin.createTopics([NewTopic("loss", partitions: 1)])
        try admin.waitForTopics(["loss"])

        let quiet = quietLogger("loss")
        let reports = Locked<[DeliveryReport]>([])
        let producerErrors = Locked<[KafkaError]>([])
        let producer = try Producer(configuration: KafkaConfiguration(bootstrapServers: servers, [
            // A request in flight when the broker vanished is bounded by request.timeout.ms, not
            // message.timeout.ms; keep both short so the failure arrives well inside the wait.
            "message.timeout.ms": "2000", "request.timeout.ms": "2000", "socket.timeout.ms": "2000",
        ]),
                                    logger: quiet,
                                    onError: { error in producerErrors.withLock { $0.append(error) } },
                                    onDelivery: { report in reports.withLock { $0.append(report) } })
        let consumerErrors = Locked<[KafkaError]>([])
        let consumer = try Consumer(configuration: KafkaConfiguration(bootstrapServers: servers, TestBroker.fastGroup), logger: quiet,
                                    onError: { error in consumerErrors.withLock { $0.append(error) } })
        try consumer.assign([TopicPartition("loss", 0, offset: KafkaOffset.beginning)])

        for i in 0..<10 { try producer.send(to: "loss", key: nil, value: Array("before-\(i)".utf8), token: UInt(i)) }
        try producer.flush()
        var received = 0
        #expect(eventually(timeout_s: 10) {
            consumer.poll(timeout_ms: 100) { received += $0.count }
            return received == 10
        })
        #expect(reports.value.count == 10 && reports.value.allSatisfy(\.isDelivered))

        broker.stop()
        for i in 10..<15 { try producer.send(to: "loss", key: nil, value: Array("after-\(i)".utf8), token: UInt(i)) }
        // The records sent into the void are reported failed once message.timeout.ms passes.
        // Generous: CI runs this beside engine processes on two busy cores.
        #expect(eventually(timeout_s: 30) { reports.value.count == 15 })
        let lost = reports.value.filter { $0.token >= 10 }
        #expect(lost.count == 5 && lost.allSatisfy { $0.errorCode == KafkaError.messageTimedOutCode }, "\(lost.map(\.errorCode))")
        // The consumer keeps returning from poll and reports the lost connection.
        #expect(eventually(timeout_s: 10) {
            consumer.poll(timeout_ms: 100) { received += $0.count }
            return consumerErrors.value.contains { $0.code == KafkaError.transportCode || $0.code == KafkaError.allBrokersDownCode }
        }, "\(consumerErrors.value)")
        #expect(received == 10)
        #expect(!producerErrors.value.isEmpty)

        let closing = ContinuousClock.now
        try producer.close(timeout_ms: 3_000)
        try? consumer.close()
        #expect(ContinuousClock.now - closing < .seconds(10), "closing without a broker does not hang")
    }
}
