import AmoreEngine
import AmoreKafka
import AmoreLocalBroker
import ArgumentParser
import Foundation
import Logging

/// A flag, else its `AMORE_*` variable.
func setting(_ flag: String?, _ variable: String) -> String? {
    flag ?? ProcessInfo.processInfo.environment[variable]
}

/// A whole-number flag, else its `AMORE_*` variable (refused when it is not a number).
func number<T: FixedWidthInteger>(_ flag: T?, _ variable: String) throws -> T? {
    if let flag { return flag }
    guard let text = ProcessInfo.processInfo.environment[variable] else { return nil }
    guard let value = T(text) else { throw ValidationError("\(variable)='\(text)' is not a whole number") }
    return value
}

/// Where to find Kafka: flags first, then the environment, else a local broker.
struct KafkaOptions: ParsableArguments {
    @Option(name: .long, help: "Bootstrap servers, host:port[,host:port]. Env: AMORE_BROKERS. Unset: start a local broker.")
    var brokers: String?

    @Option(name: .long, help: ArgumentHelp(
        "Any librdkafka property, repeatable: --kafka security.protocol=SASL_SSL --kafka sasl.mechanism=SCRAM-SHA-512 ... Env: AMORE_KAFKA (comma-separated key=value; flags win).",
        valueName: "key=value"))
    var kafka: [String] = []

    /// Properties from `AMORE_KAFKA` (comma-separated key=value) and then `--kafka`, which wins.
    func configuration() throws -> KafkaConfiguration {
        let fromEnvironment = (ProcessInfo.processInfo.environment["AMORE_KAFKA"] ?? "").split(separator: ",").map(String.init)
        var configuration = try KafkaConfiguration.parse(assignments: fromEnvironment + kafka)
        if let servers = setting(brokers, "AMORE_BROKERS"), !servers.isEmpty {
            configuration["bootstrap.servers"] = servers
        }
        return configuration
    }

    /// The configuration, with a local broker started (and said so) when none is configured;
    /// the caller stops the broker it gets.
    func connect(logger: Logger) throws -> (KafkaConfiguration, LocalBroker?) {
        var configuration = try configuration()
        guard configuration["bootstrap.servers"] == nil else { return (configuration, nil) }
        let broker = try LocalBroker.start()
        logger.notice("no brokers configured: started a local broker (Tansu, in memory)",
                      metadata: ["bootstrap_servers": "\(broker.bootstrapServers)"])
        configuration["bootstrap.servers"] = broker.bootstrapServers
        return (configuration, broker)
    }
}

/// Topic names (product.md: every one is configurable) and how topics are created.
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
    func settings(kafka: KafkaConfiguration) throws -> EngineSettings {
        var settings = EngineSettings(kafka: kafka)
        if let partitions = try number(partitions, "AMORE_PARTITIONS") {
            guard partitions > 0 else { throw ValidationError("partitions must be at least 1") }
            settings.partitions = partitions
        }
        if let topic = setting(restaurantsTopic, "AMORE_RESTAURANTS_TOPIC") { settings.topics.restaurants = topic }
        if let topic = setting(ordersTopic, "AMORE_ORDERS_TOPIC") { settings.topics.orders = topic }
        if let topic = setting(couriersTopic, "AMORE_COURIERS_TOPIC") { settings.topics.couriers = topic }
        if let topic = setting(rankingsTopic, "AMORE_RANKINGS_TOPIC") { settings.topics.rankings = topic }
        if let topic = setting(deadLetterTopic, "AMORE_DEADLETTER_TOPIC") { settings.topics.deadLetters = topic }
        if let topic = setting(checkpointsTopic, "AMORE_CHECKPOINTS_TOPIC") { settings.topics.checkpoints = topic }
        return settings
    }
}

struct LogOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. Env: AMORE_LOG_LEVEL. Default info.")
    var logLevel: String?

    /// Sends swift-log to standard error at the chosen level; returns the `amore` logger.
    func bootstrap(default defaultLevel: Logger.Level = .info) throws -> Logger {
        let text = setting(logLevel, "AMORE_LOG_LEVEL") ?? defaultLevel.rawValue
        guard let level = Logger.Level(rawValue: text) else {
            throw ValidationError("log level '\(text)' is not one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
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
