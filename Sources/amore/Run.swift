import AmoreCore
import AmoreEngine
import AmoreHTTP
import AmoreKafka
import AmoreLocalBroker
import ArgumentParser
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the engine: consume profiles, orders and courier pings; publish zone rankings.",
        discussion: """
        Every option can also be set in the environment (shown as Env:); a flag wins over \
        its variable. With no brokers configured (--brokers / AMORE_BROKERS) a local broker \
        is started and stopped with the engine.

        Prints AMORE_HTTP=host:port on standard output once the HTTP endpoint listens \
        (/healthz, /readyz, /metrics, GET /v1/zones/{zone}/rankings, \
        GET /v1/rankings?lat=..&lon=..[&style=..&mode=delivery|carry_out&limit=..]). \
        SIGTERM or SIGINT: stop fetching, publish what is pending, flush, commit, leave \
        the group, exit 0.
        """
    )

    @OptionGroup var kafkaOptions: KafkaOptions

    @Option(help: "Consumer group shared by the engine's instances. Env: AMORE_GROUP.")
    var group: String?

    @Option(help: "Partitions of topics created when missing. Env: AMORE_PARTITIONS. Default 4.")
    var partitions: Int32?

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

    @Option(help: "HTTP endpoint, host:port (port 0 picks a free one). Env: AMORE_HTTP. Default 127.0.0.1:8080.")
    var http: String?

    @Option(help: "Geohash precision of zones. Env: AMORE_ZONE_PRECISION. Default 6 (about 1.2 x 0.6 km).")
    var zonePrecision: Int?

    @Option(help: "Milliseconds a partition must be quiet before its rankings catch up with its last event. Env: AMORE_IDLE_REFRESH_MS. Default 100.")
    var idleRefreshMs: Int64?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. Env: AMORE_LOG_LEVEL. Default info.")
    var logLevel: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        func setting(_ flag: String?, _ variable: String) -> String? { flag ?? environment[variable] }
        func number<T: FixedWidthInteger>(_ flag: T?, _ variable: String) throws -> T? {
            if let flag { return flag }
            guard let text = environment[variable] else { return nil }
            guard let value = T(text) else { throw ValidationError("\(variable)='\(text)' is not a whole number") }
            return value
        }

        let levelText = setting(logLevel, "AMORE_LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: levelText) else {
            throw ValidationError("log level '\(levelText)' is not one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "amore")
        logger.logLevel = level

        let httpText = setting(http, "AMORE_HTTP") ?? "127.0.0.1:8080"
        guard let colon = httpText.lastIndex(of: ":"), let httpPort = Int(httpText[httpText.index(after: colon)...]),
              (0...65_535).contains(httpPort) else {
            throw ValidationError("HTTP address '\(httpText)' is not host:port")
        }
        let httpHost = String(httpText[..<colon])

        var kafka = try kafkaOptions.configuration()
        var localBroker: LocalBroker?
        if kafka["bootstrap.servers"] == nil {
            let broker = try LocalBroker.start()
            logger.notice("no brokers configured: started a local broker (Tansu, in memory)",
                          metadata: ["bootstrap_servers": "\(broker.bootstrapServers)"])
            kafka["bootstrap.servers"] = broker.bootstrapServers
            localBroker = broker
        }
        defer { localBroker?.stop() }

        var settings = EngineSettings(kafka: kafka)
        if localBroker != nil {
            // The local broker holds a group join for half the session timeout.
            settings.consumerProperties["session.timeout.ms"] = "2000"
            settings.consumerProperties["heartbeat.interval.ms"] = "200"
        }
        if let group = setting(group, "AMORE_GROUP") { settings.groupID = group }
        if let partitions = try number(partitions, "AMORE_PARTITIONS") {
            guard partitions > 0 else { throw ValidationError("partitions must be at least 1") }
            settings.partitions = partitions
        }
        if let topic = setting(restaurantsTopic, "AMORE_RESTAURANTS_TOPIC") { settings.topics.restaurants = topic }
        if let topic = setting(ordersTopic, "AMORE_ORDERS_TOPIC") { settings.topics.orders = topic }
        if let topic = setting(couriersTopic, "AMORE_COURIERS_TOPIC") { settings.topics.couriers = topic }
        if let topic = setting(rankingsTopic, "AMORE_RANKINGS_TOPIC") { settings.topics.rankings = topic }
        if let topic = setting(deadLetterTopic, "AMORE_DEADLETTER_TOPIC") { settings.topics.deadLetters = topic }
        if let precision = try number(zonePrecision, "AMORE_ZONE_PRECISION") {
            guard (1...12).contains(precision) else { throw ValidationError("zone precision must be 1 to 12") }
            settings.market.zonePrecision = precision
        }
        if let idle = try number(idleRefreshMs, "AMORE_IDLE_REFRESH_MS") { settings.idleRefresh_ms = max(1, idle) }

        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000].map { .milliseconds($0) }
        let engine = Engine(settings: settings, metricsFactory: factory, logger: logger)
        let server = OperationsServer.application(
            status: engine.status, registry: registry, host: httpHost, port: httpPort, logger: logger,
            onRunning: { address in
                FileHandle.standardOutput.write(Data("AMORE_HTTP=\(address)\n".utf8))
            })
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: EngineService(engine: engine),
                      successTerminationBehavior: .gracefullyShutdownGroup,
                      failureTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: server, failureTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}
