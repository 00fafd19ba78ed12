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
    @OptionGroup var common: CommonOptions

    /// What `amore serve` runs with, resolved from flags, environment and file.
    struct Resolved {
        var kafka: KafkaConfiguration
        var follower: RankingFollower.Settings
        var zonePrecision: Int
        var minVersionWait_ms: Int
        var query: HostPort
        var ops: HostPort
    }

    /// Every setting `run` uses, looked up (and so recorded for `amore config`); starts nothing.
    func resolve(_ layers: LayeredConfiguration) throws -> Resolved {
        let kafka = try kafkaOptions.configuration(layers)
        var settings = RankingFollower.Settings()
        let rankings = EngineSettings.Topics().rankings
        settings.topic = layers.string(.rankingsTopic, flag: rankingsTopic, default: rankings) ?? rankings
        settings.maxReadyLag_records = max(0, try layers.number(.maxReadyLag, flag: maxReadyLag, default: settings.maxReadyLag_records)
                                              ?? settings.maxReadyLag_records)
        let defaultTail_s = (2 * settings.heartbeat_ms + settings.tailMargin_ms) / 1_000
        let tail_s = try layers.number(.bootstrapTail, flag: bootstrapTailS, default: defaultTail_s) ?? defaultTail_s
        guard tail_s > 0 else { throw ValidationError("serve.bootstrap_tail_s must be at least 1") }
        settings.tailMargin_ms = tail_s.multipliedReportingOverflow(by: 1_000).partialValue - 2 * settings.heartbeat_ms
        let precision = try layers.number(.zonePrecision, flag: zonePrecision, default: MarketSettings().zonePrecision)
        guard let precision, (1...12).contains(precision) else { throw ValidationError("zones.precision must be 1 to 12") }
        let wait_ms = try layers.number(.minVersionWait, flag: minVersionWaitMs, default: QuerySource.defaultMinVersionWait_ms)
        guard let wait_ms, (0...10_000).contains(wait_ms) else { throw ValidationError("serve.min_version_wait_ms must be 0 to 10000") }
        return Resolved(
            kafka: kafka, follower: settings, zonePrecision: precision, minVersionWait_ms: wait_ms,
            query: try HostPort(layers.string(.serveHTTP, flag: http, default: "0.0.0.0:8081") ?? "", option: "serve.http"),
            ops: try HostPort(layers.string(.serveOpsHTTP, flag: opsHttp, default: "127.0.0.1:9091") ?? "", option: "serve.ops_http"))
    }

    func run() async throws {
        let (layers, logger) = try await common.load()
        let resolved = try resolve(layers)
        let (kafka, localBroker) = try KafkaOptions.connect(resolved.kafka, logger: logger)
        defer { localBroker?.stop() }
        let settings = resolved.follower, precision = resolved.zonePrecision, wait_ms = resolved.minVersionWait_ms
        let query = resolved.query, ops = resolved.ops

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
