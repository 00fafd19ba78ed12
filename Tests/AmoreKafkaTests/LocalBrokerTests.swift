import AmoreKafka
import AmoreLocalBroker
import Foundation
import Logging
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
        var quiet = Logger(label: "probe")
        quiet.logLevel = .critical
        let after = try Admin(configuration: KafkaConfiguration(bootstrapServers: broker.bootstrapServers), logger: quiet)
        #expect(throws: KafkaError.self, "nothing answers on the port once stopped") { try after.describeCluster(timeout_ms: 1_000) }
        broker.stop()  // idempotent
    }
}
