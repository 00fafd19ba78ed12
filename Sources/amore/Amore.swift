import AmoreKafka
import AmoreLocalBroker
import ArgumentParser
import Foundation
import Logging
import UnixSignals

@main
struct Amore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "amore",
        abstract: "Amore: real-time pizza ETA rankings from Kafka event streams.",
        subcommands: [Demo.self, Run.self, Serve.self, Simulate.self, Replay.self, Watch.self, Broker.self, Cluster.self, BackupCommand.self,
                      RestoreCommand.self, ConfigCommand.self, Version.self]
    )
}

struct Broker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a local Kafka-protocol broker (Tansu, in memory) until SIGINT/SIGTERM.",
        discussion: """
        Prints `AMORE_BOOTSTRAP_SERVERS=127.0.0.1:PORT` on standard output once the broker \
        answers Metadata requests. The broker is stopped when this command exits, however it exits.
        """
    )

    @Option(name: .long, help: "Seconds to wait for the broker to answer.")
    var readyTimeout: Double = 20

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        try LibrdkafkaVersion.check()
        // Trapped before the broker starts: a signal's default action on any thread would
        // end the process without `stop`, leaving the broker to the watchdog a while longer.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let broker = try LocalBroker.start(readyTimeout_s: readyTimeout)
        FileHandle.standardOutput.write(Data("AMORE_BOOTSTRAP_SERVERS=\(broker.bootstrapServers)\n".utf8))
        var received: UnixSignal?
        for await signal in signals {
            received = signal
            break
        }
        FileHandle.standardError.write(Data("amore broker: signal \(received.map { "\($0)" } ?? "?"), stopping the broker\n".utf8))
        broker.stop()
    }
}

struct Cluster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Connect to Kafka and list its brokers and topics (checks connection and security settings).",
        discussion: "With no brokers configured it starts a local broker first and says so."
    )

    @OptionGroup var options: KafkaOptions
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let (layers, logger) = try await common.load()
        let (configuration, localBroker) = try options.connect(layers, logger: logger)
        defer { localBroker?.stop() }
        let metadata = try Admin(configuration: configuration).describeCluster(timeout_ms: 10_000)
        for broker in metadata.brokers.sorted(by: { $0.id < $1.id }) {
            print("broker \(broker.id) \(broker.host):\(broker.port)")
        }
        for topic in metadata.topics.sorted(by: { $0.name < $1.name }) where !topic.name.hasPrefix("__") {
            print("topic \(topic.name) partitions=\(topic.partitions.count)")
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print Amore's version and commit, and the librdkafka in use.")

    func run() throws {
        print("amore \(BuildInfo.version) (commit \(BuildInfo.commit))")
        print("librdkafka \(LibrdkafkaVersion.loaded)")
        try LibrdkafkaVersion.check()
    }
}
