import AmoreKafka
import AmoreTestSupport
import Foundation
import Synchronization
import Testing

/// An unreachable broker gives prompt, explicit errors, never a hang. Port 1 on
/// loopback refuses connections, so no broker is needed (nor wanted) here.
@Suite struct FailureTests {
    static let unreachable = "127.0.0.1:1"

    @Test func describeClusterFailsWithinItsTimeoutAndSaysWhy() throws {
        let admin = try Admin(configuration: KafkaConfiguration(bootstrapServers: Self.unreachable), logger: quietLogger("admin"))
        let started = ContinuousClock.now
        let error = #expect(throws: KafkaError.self) { try admin.describeCluster(timeout_ms: 1_000) }
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(error?.code == KafkaError.transportCode || error?.code == KafkaError.timedOutCode, "\(String(describing: error))")
        #expect(error?.message.contains("Connection refused") == true, "the broker error is named: \(String(describing: error))")
    }

    @Test func waitForTopicsGivesUpWithTheReason() throws {
        let admin = try Admin(configuration: KafkaConfiguration(bootstrapServers: Self.unreachable), logger: quietLogger("admin"))
        let error = #expect(throws: KafkaError.self) { try admin.waitForTopics(["amore.orders"], timeout_ms: 1_500) }
        #expect(error?.code == KafkaError.timedOutCode)
        #expect(error?.message.contains("amore.orders") == true, "\(String(describing: error))")
    }

    @Test func undeliverableRecordIsReportedAsFailedWithItsToken() throws {
        let reports = Locked<[DeliveryReport]>([])
        let errors = Locked<[KafkaError]>([])
        let producer = try Producer(configuration: KafkaConfiguration(bootstrapServers: Self.unreachable, ["message.timeout.ms": "1000"]),
                                    logger: quietLogger("producer"),
                                    onError: { error in errors.withLock { $0.append(error) } },
                                    onDelivery: { report in reports.withLock { $0.append(report) } })
        try producer.send(to: "amore.orders", key: Array("austin".utf8), value: Array("{}".utf8), token: 42)
        let started = ContinuousClock.now
        try producer.close(timeout_ms: 5_000)
        #expect(ContinuousClock.now - started < .seconds(5))
        let report = try #require(reports.value.first)
        #expect(reports.value.count == 1)
        #expect(report.token == 42)
        #expect(!report.isDelivered)
        #expect(report.errorCode == KafkaError.messageTimedOutCode, "\(String(describing: report.error))")
        #expect(!errors.value.isEmpty, "the connection failure is surfaced to onError")
        #expect(throws: KafkaError.self) { try producer.send(to: "amore.orders", key: nil, value: nil) }
    }

    @Test func consumerPollReturnsAndSurfacesTheConnectionError() throws {
        let errors = Locked<[KafkaError]>([])
        let consumer = try Consumer(configuration: KafkaConfiguration(bootstrapServers: Self.unreachable, TestBroker.fastGroup),
                                    logger: quietLogger("consumer"),
                                    onError: { error in errors.withLock { $0.append(error) } })
        try consumer.assign([TopicPartition("amore.orders", 0, offset: KafkaOffset.beginning)])
        let started = ContinuousClock.now
        var records = 0
        let surfaced = eventually(timeout_s: 5) {
            consumer.poll(timeout_ms: 100) { batch in records += batch.count }
            return !errors.value.isEmpty
        }
        #expect(surfaced)
        #expect(records == 0)
        #expect(errors.value.contains { $0.code == KafkaError.transportCode || $0.code == KafkaError.allBrokersDownCode }, "\(errors.value)")
        let closeStarted = ContinuousClock.now
        try? consumer.close()
        #expect(ContinuousClock.now - closeStarted < .seconds(5), "closing without a broker does not hang")
        #expect(ContinuousClock.now - started < .seconds(10))
    }
}
