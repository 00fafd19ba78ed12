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
        GET /v1/rankings?lat=..&lon=..[&style=..&mode=delivery|carry_out&limit=..], \
        GET /v1/markets[/{market}/zones|/{market}/restaurants], and the live map at /map). \
        SIGTERM or SIGINT: stop fetching, publish what is pending, flush, commit, leave \
        the group, exit 0.
        """
    )

    @OptionGroup var kafkaOptions: KafkaOptions
    @OptionGroup var topicOptions: TopicOptions
    @OptionGroup var engineOptions: EngineOptions
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let (layers, logger) = try await common.load()
        let (kafka, localBroker) = try kafkaOptions.connect(layers, logger: logger)
        defer { localBroker?.stop() }
        let engine = try engineOptions.services(settings: topicOptions.settings(kafka: kafka, layers), layers,
                                                localBroker: localBroker != nil, logger: logger)
        try await ServiceGroup(configuration: .init(services: engine.services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                    logger: logger)).run()
    }
}

/// How the engine runs: group, zones, timing, the HTTP endpoint.
struct EngineOptions: ParsableArguments {
    @Option(help: "Consumer group shared by the engine's instances. Env: AMORE_GROUP.")
    var group: String?

    @Option(help: "HTTP endpoint, host:port (port 0 picks a free one). Env: AMORE_HTTP. Default 127.0.0.1:8080.")
    var http: String?

    @Option(help: "Geohash precision of zones. Env: AMORE_ZONE_PRECISION. Default 6 (about 1.2 x 0.6 km).")
    var zonePrecision: Int?

    @Option(help: "Milliseconds a partition must be quiet before its rankings catch up with its last event. Env: AMORE_IDLE_REFRESH_MS. Default 100.")
    var idleRefreshMs: Int64?

    @Option(help: "Milliseconds a partition read to its end may hold its pair's other partition back in the event-time merge (0: never; more: live rankings equal a replay's). Env: AMORE_MERGE_WAIT_MS. Default 0.")
    var mergeWaitMs: Int64?

    @Option(help: "Milliseconds of wall time between checkpoints of a pair whose state changed. Env: AMORE_CHECKPOINT_INTERVAL_MS. Default 5000.")
    var checkpointIntervalMs: Int64?

    @Flag(help: "Neither write nor restore checkpoints: a gained pair replays its whole retained input (for comparisons). Env: AMORE_CHECKPOINTS=off.")
    var noCheckpoints = false

    /// The engine's settings: `base` (Kafka, topics) with this group's options, layered.
    func settings(_ base: EngineSettings, _ layers: LayeredConfiguration, localBroker: Bool) throws -> EngineSettings {
        var settings = base
        if localBroker {
            // The local broker holds a group join for half the session timeout.
            settings.consumerProperties["session.timeout.ms"] = "2000"
            settings.consumerProperties["heartbeat.interval.ms"] = "200"
        }
        settings.groupID = layers.string(.group, flag: group, default: settings.groupID) ?? settings.groupID
        let precision = try layers.number(.zonePrecision, flag: zonePrecision, default: settings.market.zonePrecision)
        guard let precision, (1...12).contains(precision) else { throw ValidationError("zones.precision must be 1 to 12") }
        settings.market.zonePrecision = precision
        settings.idleRefresh_ms = max(1, try layers.number(.idleRefresh, flag: idleRefreshMs, default: settings.idleRefresh_ms) ?? 1)
        let mergeWait = try layers.number(.mergeWait, flag: mergeWaitMs, default: settings.mergeWait_ms)
        guard let mergeWait, mergeWait >= 0 else { throw ValidationError("engine.merge_wait_ms must be 0 or more") }
        settings.mergeWait_ms = mergeWait
        let interval = try layers.number(.checkpointInterval, flag: checkpointIntervalMs, default: settings.checkpointInterval_ms)
        guard let interval, interval >= 100 else { throw ValidationError("engine.checkpoint_interval_ms must be at least 100") }
        settings.checkpointInterval_ms = interval
        settings.checkpoints = try layers.switchedOn(.checkpoints, offFlag: noCheckpoints, default: settings.checkpoints)
        return settings
    }

    /// The HTTP endpoint's address, layered.
    func endpoint(_ layers: LayeredConfiguration) throws -> HostPort {
        try HostPort(layers.string(.engineHTTP, flag: http, default: "127.0.0.1:8080") ?? "", option: "engine.http")
    }

    /// The engine and its HTTP endpoint as services of one group; either ending ends the group.
    /// - Parameter onListening: told the HTTP endpoint's host:port once it listens.
    func services(settings base: EngineSettings, _ layers: LayeredConfiguration, localBroker: Bool, logger: Logger,
                  onListening: @escaping @Sendable (String) -> Void = { _ in })
        throws -> (engine: Engine, services: [ServiceGroupConfiguration.ServiceConfiguration]) {
        let endpoint = try endpoint(layers)
        let settings = try settings(base, layers, localBroker: localBroker)

        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000].map { .milliseconds($0) }
        let engine = Engine(settings: settings, metricsFactory: factory, logger: logger)
        let server = OperationsServer.application(
            status: engine.status, registry: registry, host: endpoint.host, port: endpoint.port, logger: logger,
            onRunning: { address in
                FileHandle.standardOutput.write(Data("AMORE_HTTP=\(address)\n".utf8))
                onListening(address)
            })
        return (engine, [
            .init(service: ThreadService(name: "amore-engine", run: engine.run, stop: engine.stop),
                  successTerminationBehavior: .gracefullyShutdownGroup,
                  failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: server, failureTerminationBehavior: .gracefullyShutdownGroup),
        ])
    }
}
