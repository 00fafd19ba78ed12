import AmoreKafka
import AmoreLocalBroker
import ArgumentParser
import Foundation
import Logging

@main
struct Amore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "amore",
        abstract: "Amore: real-time pizza ETA rankings from Kafka event streams.",
        subcommands: [Broker.self, Version.self]
    )
}

struct Broker: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a local Kafka-protocol broker (Tansu, in memory) until SIGINT/SIGTERM.",
        discussion: """
        Prints `AMORE_BOOTSTRAP_SERVERS=127.0.0.1:PORT` on standard output once the broker \
        answers Metadata requests. The broker is stopped when this command exits, however it exits.
        """
    )

    @Option(name: .long, help: "Seconds to wait for the broker to answer.")
    var readyTimeout: Double = 20

    func run() throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        try LibrdkafkaVersion.check()
        let broker = try LocalBroker.start(readyTimeout_s: readyTimeout)
        FileHandle.standardOutput.write(Data("AMORE_BOOTSTRAP_SERVERS=\(broker.bootstrapServers)\n".utf8))
        let signal = waitForTerminationSignal()
        FileHandle.standardError.write(Data("amore broker: signal \(signal), stopping the broker\n".utf8))
        broker.stop()
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the versions in use.")

    func run() throws {
        print("librdkafka \(LibrdkafkaVersion.loaded)")
        try LibrdkafkaVersion.check()
    }
}

/// Blocks until SIGINT or SIGTERM arrives; returns its number.
func waitForTerminationSignal() -> Int32 {
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGINT)
    sigaddset(&signals, SIGTERM)
    pthread_sigmask(SIG_BLOCK, &signals, nil)
    var received: Int32 = 0
    sigwait(&signals, &received)
    return received
}
