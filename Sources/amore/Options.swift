import AmoreEngine
import AmoreKafka
import AmoreLocalBroker
import ArgumentParser
import Foundation
import Logging

/// The configuration file and the log level: every command has them.
struct CommonOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: ArgumentHelp(
        "Configuration file (JSON; config/ has one per environment); environment variables and flags win over it. Env: AMORE_CONFIG.",
        valueName: "file"))
    var configFile: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. Env: AMORE_LOG_LEVEL. Default info.")
    var logLevel: String?

    /// The layered configuration, and swift-log sent to standard error at its level.
    func load(defaultLevel: Logger.Level = .info) async throws -> (LayeredConfiguration, Logger) {
        let configuration = try await LayeredConfiguration(file: configFile)
        return (configuration, try bootstrapLogging(configuration, defaultLevel: defaultLevel))
    }

    /// The log level's effective value (checked), without starting logging (`amore config`).
    func level(_ configuration: LayeredConfiguration, defaultLevel: Logger.Level = .info) throws -> Logger.Level {
        let text = configuration.string(.logLevel, flag: logLevel, default: defaultLevel.rawValue) ?? defaultLevel.rawValue
        guard let level = Logger.Level(rawValue: text) else {
            throw ValidationError("log level '\(text)' is not one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return level
    }

    private func bootstrapLogging(_ configuration: LayeredConfiguration, defaultLevel: Logger.Level) throws -> Logger {
        let level = try level(configuration, defaultLevel: defaultLevel)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "amore")
        logger.logLevel = level
        return logger
    }
}

/// Where to find Kafka: flags first, then the environment, else a local broker.
struct KafkaOptions: ParsableArguments {
    @Option(name: .long, help: "Bootstrap servers, host:port[,host:port]. Env: AMORE_BROKERS. Unset: start a local broker.")
    var brokers: String?

    @Option(name: .long, help: ArgumentHelp(
        "Any librdkafka property, repeatable: --kafka security.protocol=SASL_SSL --kafka sasl.mechanism=SCRAM-SHA-512 ... Env: AMORE_KAFKA (key=value separated by commas or new lines; \\, is a comma in a value). Secrets belong in AMORE_KAFKA_SECRETS_DIR (one file per property) or the environment.",
        valueName: "key=value"))
    var kafka: [String] = []

    /// Librdkafka properties, layered (`LayeredConfiguration.kafkaProperties`), with the brokers.
    func configuration(_ layers: LayeredConfiguration) throws -> KafkaConfiguration {
        var configuration = KafkaConfiguration()
        for (name, value) in try layers.kafkaProperties(flags: kafka) { configuration[name] = value }
        if let servers = layers.string(.brokers, flag: brokers), !servers.isEmpty {
            configuration["bootstrap.servers"] = servers
        }
        return configuration
    }

    /// The configuration, with a local broker started (and said so) when none is configured;
    /// the caller stops the broker it gets.
    func connect(_ layers: LayeredConfiguration, logger: Logger) throws -> (KafkaConfiguration, LocalBroker?) {
        try Self.connect(configuration(layers), logger: logger)
    }

    /// The same for a configuration already resolved (`amore serve` resolves it with the rest).
    static func connect(_ resolved: KafkaConfiguration, logger: Logger) throws -> (KafkaConfiguration, LocalBroker?) {
        var configuration = resolved
        guard configuration["bootstrap.servers"] == nil else {
            // Stop at start-up, with the reason, rather than retry in the background.
            try ConnectionCheck.verify(configuration, logger: logger)
            return (configuration, nil)
        }
        let broker = try LocalBroker.start()
        logger.notice("no brokers configured: started a local broker (Tansu, in memory)",
                      metadata: ["bootstrap_servers": "\(broker.bootstrapServers)"])
        configuration["bootstrap.servers"] = broker.bootstrapServers
        return (configuration, broker)
    }
}

/// Topic names (every one is configurable) and how topics are created.
struct TopicOptions: ParsableArguments {
    @Option(help: "Restaurant profiles topic. Env: AMORE_RESTAURANTS_TOPIC.")
    var restaurantsTopic: String?
    @Option(help: "Order events topic. Env: AMORE_ORDERS_TOPIC.")
    var ordersTopic: String?
    @Option(help: "Courier pings topic. Env: AMORE_COURIERS_TOPIC.")
    var couriersTopic: String?
    @Option(help: "Rankings topic (output). Env: AMORE_RANKINGS_TOPIC.")
    var rankingsTopic: String?
    @Option(help: "Dead-letter topic (output). Env: AMORE_DEADLETTER_TOPIC.")
    var deadLetterTopic: String?
    @Option(help: "Checkpoints topic (the engine's state, compacted). Env: AMORE_CHECKPOINTS_TOPIC.")
    var checkpointsTopic: String?
    @Option(help: "Partitions of topics created when missing. Env: AMORE_PARTITIONS. Default 4.")
    var partitions: Int32?

    /// Engine settings for `kafka` with these topics (and defaults for everything else).
    func settings(kafka: KafkaConfiguration, _ layers: LayeredConfiguration) throws -> EngineSettings {
        var settings = EngineSettings(kafka: kafka)
        settings.partitions = try layers.number(.partitions, flag: partitions, default: settings.partitions) ?? settings.partitions
        guard settings.partitions > 0 else { throw ValidationError("topics.partitions must be at least 1") }
        let topics = settings.topics
        settings.topics.restaurants = layers.string(.restaurantsTopic, flag: restaurantsTopic, default: topics.restaurants) ?? topics.restaurants
        settings.topics.orders = layers.string(.ordersTopic, flag: ordersTopic, default: topics.orders) ?? topics.orders
        settings.topics.couriers = layers.string(.couriersTopic, flag: couriersTopic, default: topics.couriers) ?? topics.couriers
        settings.topics.rankings = layers.string(.rankingsTopic, flag: rankingsTopic, default: topics.rankings) ?? topics.rankings
        settings.topics.deadLetters = layers.string(.deadLettersTopic, flag: deadLetterTopic, default: topics.deadLetters) ?? topics.deadLetters
        settings.topics.checkpoints = layers.string(.checkpointsTopic, flag: checkpointsTopic, default: topics.checkpoints) ?? topics.checkpoints
        return settings
    }
}

/// A `host:port` option (`amore run`'s and `amore serve`'s endpoints; port 0 picks one).
struct HostPort {
    let host: String
    let port: Int

    init(_ text: String, option: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw ValidationError("\(option) '\(text)' is not host:port")
        }
        host = String(text[..<colon])
        self.port = port
    }
}
