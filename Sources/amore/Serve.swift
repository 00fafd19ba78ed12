import AmoreClient
import AmoreCore
import AmoreEngine
import AmoreHTTP
import AmoreKafka
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The query tier: follow the rankings topic and answer the API tier over HTTP, from memory.",
        discussion: """
        Stateless and horizontally scalable: each instance reads only the tail of the \
        rankings topic that covers the last two heartbeats (ready in seconds however long \
        the topic), then follows it. Query port (--http, for the API tier): \
        GET /v1/zones/{zone}/rankings, GET /v1/rankings?lat=..&lon=.. (style, mode, limit, \
        min_version), GET /v1/zones/{zone}/stream (server-sent events), the market overviews \
        and the live map at /map; the contract is openapi/amore-serve.yaml. Operations port \
        (--ops-http, loopback by default): /healthz, /readyz, /metrics, POST /follow/pause, \
        POST /follow/resume. Prints AMORE_HTTP=host:port and AMORE_OPS_HTTP=host:port once \
        each listens. SIGTERM or SIGINT: stop answering, stop following, exit 0.
        """
    )

    @OptionGroup var kafkaOptions: KafkaOptions
    @Option(help: "Rankings topic to follow. Env: AMORE_RANKINGS_TOPIC. Default amore.rankings.")
    var rankingsTopic: String?
    @Option(help: "Query endpoint, host:port (port 0 picks one). Env: AMORE_HTTP. Default 0.0.0.0:8081.")
    var http: String?
    @Option(help: "Operations endpoint (probes, metrics), host:port. Env: AMORE_OPS_HTTP. Default 127.0.0.1:9091.")
    var opsHttp: String?
    @Option(help: "Geohash precision of the engine's zones (a position maps to one). Env: AMORE_ZONE_PRECISION. Default 6.")
    var zonePrecision: Int?
    @Option(help: "Milliseconds a request with min_version waits for this server to reach it. Env: AMORE_MIN_VERSION_WAIT_MS. Default 250.")
    var minVersionWaitMs: Int?
    @Option(help: "Records behind the topic's end beyond which /readyz says not ready. Env: AMORE_MAX_READY_LAG. Default 10000.")
    var maxReadyLag: Int64?
    @Option(help: "Seconds of the rankings topic's newest record time read at start. Env: AMORE_BOOTSTRAP_TAIL_S. Default 135 (two 60 s heartbeats and a 15 s margin); a huge value reads the whole topic.")
    var bootstrapTailS: Int64?
    @OptionGroup var logOptions: LogOptions

    func run() async throws {
        let logger = try logOptions.bootstrap()
        let (kafka, localBroker) = try kafkaOptions.connect(logger: logger)
        defer { localBroker?.stop() }
        var settings = RankingFollower.Settings()
        settings.topic = setting(rankingsTopic, "AMORE_RANKINGS_TOPIC") ?? EngineSettings.Topics().rankings
        if let lag = try number(maxReadyLag, "AMORE_MAX_READY_LAG") { settings.maxReadyLag_records = max(0, lag) }
        if let tail = try number(bootstrapTailS, "AMORE_BOOTSTRAP_TAIL_S") {
            guard tail > 0 else { throw ValidationError("the bootstrap tail must be at least 1 s") }
            settings.tailMargin_ms = tail.multipliedReportingOverflow(by: 1_000).partialValue - 2 * settings.heartbeat_ms
        }
        let precision = try number(zonePrecision, "AMORE_ZONE_PRECISION") ?? MarketSettings().zonePrecision
        guard (1...12).contains(precision) else { throw ValidationError("zone precision must be 1 to 12") }
        let wait_ms = try number(minVersionWaitMs, "AMORE_MIN_VERSION_WAIT_MS") ?? QuerySource.defaultMinVersionWait_ms
        guard (0...10_000).contains(wait_ms) else { throw ValidationError("min-version wait must be 0 to 10000 ms") }
        let query = try HostPort(setting(http, "AMORE_HTTP") ?? "0.0.0.0:8081", option: "--http")
        let ops = try HostPort(setting(opsHttp, "AMORE_OPS_HTTP") ?? "127.0.0.1:9091", option: "--ops-http")

        // The engine's consumer defaults (fetching measured on the local broker) apply here too.
        let consumer = kafka.withDefaults(EngineSettings(kafka: kafka).consumerProperties)
        let client = AmoreClient(configuration: consumer, settings: settings, zonePrecision: precision, logger: logger)
        let queryServer = ServeServer.queryApplication(
            client: client, restaurants: RestaurantDirectory(), minVersionWait_ms: wait_ms, host: query.host, port: query.port,
            logger: logger, onRunning: { FileHandle.standardOutput.write(Data("AMORE_HTTP=\($0)\n".utf8)) })
        let opsServer = ServeServer.operationsApplication(
            client: client, host: ops.host, port: ops.port, logger: logger,
            onRunning: { FileHandle.standardOutput.write(Data("AMORE_OPS_HTTP=\($0)\n".utf8)) })
        let services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: ThreadService(name: "amore-serve-follower", run: client.run, stop: client.stop),
                  successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: queryServer, failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: opsServer, failureTerminationBehavior: .gracefullyShutdownGroup),
        ]
        try await ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                    logger: logger)).run()
    }
}
