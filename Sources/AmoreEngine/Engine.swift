import AmoreCore
import AmoreKafka
import CoreMetrics
import Logging
import Synchronization

/// The streaming job: reads restaurant profiles (all of them, as a table), order events
/// and courier pings (the partitions the group gives this instance), keeps each market's
/// state, and publishes the zone rankings that changed.
///
/// One thread (the caller of `run`) owns every partition pair this instance holds: it
/// polls, decodes, applies, publishes and commits, so each market has exactly one
/// writer and the ranking board one writer. Delivery reports come back on the
/// producer's thread and only touch the `PublicationLedger`.
///
/// Delivery: at-least-once. Offsets are committed only once every ranking and dead
/// letter produced before them has been acknowledged (see `PublicationLedger`); events
/// applied but not yet in a publication (the current resolution step) are recovered by
/// the rebuild. On gaining a partition pair the engine restores the pair's newest usable
/// checkpoint (`CheckpointStore`, at or before the committed offsets), replays from
/// there to the committed offsets without publishing (or from the beginning when no
/// checkpoint is usable), then continues live. The owner checkpoints each pair every
/// `checkpointInterval_ms`, and exactly at its committed offsets on revoke and shutdown,
/// so a planned handoff replays nothing.
///
/// Its parts, each named for its job: `EngineLoop` (poll, decode, merge, apply, refresh),
/// `PartitionOwnership` (the pairs held, and rebalances), `Checkpointer` (checkpoint
/// scheduling and restore), `CommitScheduler` (what may be committed, and when),
/// `Publisher` (everything produced) and `ProfileTable` (the restaurant profiles).
public final class Engine: Sendable {
    public let settings: EngineSettings
    public let status: EngineStatus
    private let logger: Logger
    private let metrics: EngineMetrics
    private let stopRequest = StopRequest()
    private let onPublished: (@Sendable (_ delay_ns: Int64) -> Void)?

    /// - Parameter onPublished: called on the producer's thread for each acknowledged
    ///   ranking with its delay from the CreateTime of the record that triggered it.
    public init(settings: EngineSettings, metricsFactory: MetricsFactory,
                logger: Logger = Logger(label: "amore.engine"),
                onPublished: (@Sendable (_ delay_ns: Int64) -> Void)? = nil) {
        self.settings = settings
        self.logger = logger
        self.onPublished = onPublished
        status = EngineStatus(board: RankingBoard(), zonePrecision: settings.market.zonePrecision)
        metrics = EngineMetrics(factory: metricsFactory, topics: settings.topics)
    }

    /// Asks `run` to finish: stop fetching, publish what is pending, flush, commit, leave
    /// the group. Any thread.
    public func stop() {
        stopRequest.request()
        status.markStopping()
    }

    /// Runs until `stop` (returns) or a failure it cannot continue past (throws), on the
    /// calling thread, which becomes the engine thread.
    public func run() throws {
        try LibrdkafkaVersion.check()
        let ordersPartitions = try Self.prepareTopics(settings, logger: logger)
        let publisher = try Publisher(settings: settings, metrics: metrics, logger: logger, onPublished: onPublished)
        var checkpointer: Checkpointer?
        if settings.checkpoints {
            var configuration = consumerConfiguration()
            configuration["group.id"] = "\(settings.groupID).checkpoints"
            let store = try CheckpointStore(topic: settings.topics.checkpoints, partitions: Int32(ordersPartitions),
                                            consumerConfiguration: configuration, logger: logger)
            checkpointer = Checkpointer(store: store, publisher: publisher, settings: settings, metrics: metrics, logger: logger)
        }
        defer { checkpointer?.close() }

        var profileConfiguration = consumerConfiguration()
        profileConfiguration["group.id"] = "\(settings.groupID).profiles"
        profileConfiguration["enable.auto.commit"] = "false"
        profileConfiguration["enable.partition.eof"] = "true"
        let profileConsumer = try Consumer(configuration: profileConfiguration, logger: logger,
                                           onError: { [logger] error in logger.warning("profile consumer: \(error)") })
        defer { try? profileConsumer.close() }
        let consumer = try Consumer(
            configuration: groupConfiguration(), logger: logger,
            onError: { [logger, status] error in
                // "All brokers down" is reported once, on a transition librdkafka may not see
                // (CI run of aa289eb: a broker restart with only "connection refused" errors),
                // so every transport error raises a doubt that the loop's probe settles.
                if error.code == KafkaError.allBrokersDownCode {
                    status.suspectKafkaUnreachable()
                    status.confirmKafkaUnreachable()
                } else if error.code == KafkaError.transportCode {
                    status.suspectKafkaUnreachable()
                }
                logger.warning("consumer: \(error)")
            })
        let profiles = ProfileTable()
        let commits = CommitScheduler(consumer: consumer, publisher: publisher, board: status.board, settings: settings)
        let ownership = PartitionOwnership(consumer: consumer, commits: commits, checkpointer: checkpointer, publisher: publisher,
                                           profiles: profiles, board: status.board, settings: settings, metrics: metrics,
                                           logger: logger, onFailure: { [self] in stop() })
        let loop = EngineLoop(settings: settings, status: status, metrics: metrics, logger: logger, stopRequest: stopRequest,
                              consumer: consumer, profileConsumer: profileConsumer, publisher: publisher, profiles: profiles,
                              ownership: ownership, commits: commits, checkpointer: checkpointer)
        try loop.loadProfiles()
        if stopRequest.isRequested { return try loop.finish() }

        // The consumer holds its listener weakly: `ownership` lives until `run` returns.
        try consumer.subscribe(to: [settings.topics.orders, settings.topics.couriers], listener: ownership)
        logger.info("engine running", metadata: [
            "group": "\(settings.groupID)", "partitions": "\(ordersPartitions)",
            "orders": "\(settings.topics.orders)", "couriers": "\(settings.topics.couriers)",
        ])
        try withExtendedLifetime(ownership) { try loop.run() }
    }

    // MARK: Start-up

    /// Creates the topics that are missing (inputs with `inputRetention_ms`, profiles and
    /// rankings compacted) and checks that orders and couriers are co-partitioned;
    /// returns their partition count. Producers of input (`amore simulate`) call it too.
    public static func prepareTopics(_ settings: EngineSettings, logger: Logger) throws -> Int {
        let admin = try Admin(configuration: settings.kafka, logger: logger)
        let topics = settings.topics
        let inputRetention = ["retention.ms": String(settings.inputRetention_ms)]
        func topic(_ name: String, partitions: Int32? = nil, _ configs: [String: String] = [:]) -> NewTopic {
            NewTopic(name, partitions: partitions ?? settings.partitions, replicationFactor: settings.replicationFactor, configs: configs)
        }
        // Only what is missing: where topics are managed elsewhere (Terraform), the engine
        // needs no Create permission, and a start-up asks only for metadata.
        let present = Set(try admin.describeCluster(timeout_ms: 10_000).topics.map(\.name))
        try admin.createTopics([
            topic(topics.restaurants, ["cleanup.policy": "compact"]),
            topic(topics.orders, inputRetention),
            topic(topics.couriers, inputRetention),
            topic(topics.rankings, ["cleanup.policy": "compact"]),
            topic(topics.deadLetters),
        ].filter { !present.contains($0.name) })
        let inputs = try admin.waitForTopics([topics.orders, topics.couriers], timeout_ms: 30_000)
        let orders = inputs.topic(topics.orders)?.partitions.count ?? 0
        let couriers = inputs.topic(topics.couriers)?.partitions.count ?? 0
        guard orders == couriers else {
            throw EngineError.notCoPartitioned(orders: topics.orders, ordersPartitions: orders,
                                               couriers: topics.couriers, couriersPartitions: couriers)
        }
        // One checkpoint partition per pair (two slots each survive compaction): created
        // with the inputs' count, whatever --partitions says.
        try admin.createTopics([topic(topics.checkpoints, partitions: Int32(orders), ["cleanup.policy": "compact"])]
            .filter { !present.contains($0.name) })
        let metadata = try admin.waitForTopics(topics.all, timeout_ms: 30_000)
        let checkpointPartitions = metadata.topic(topics.checkpoints)?.partitions.count ?? 0
        if settings.checkpoints && checkpointPartitions < orders {
            throw EngineError.tooFewCheckpointPartitions(topic: topics.checkpoints, partitions: checkpointPartitions,
                                                         inputPartitions: orders)
        }
        return orders
    }

    private func consumerConfiguration() -> KafkaConfiguration {
        settings.kafka.withDefaults(settings.consumerProperties)
    }

    private func groupConfiguration() -> KafkaConfiguration {
        var configuration = consumerConfiguration()
        configuration["group.id"] = settings.groupID
        configuration["enable.auto.commit"] = "false"
        // Range assignment gives partition N of both co-partitioned topics to one member.
        if configuration["partition.assignment.strategy"] == nil {
            configuration["partition.assignment.strategy"] = "range"
        }
        return configuration
    }

}

/// `Engine.stop`'s request, read by the engine thread between polls.
final class StopRequest: Sendable {
    private let requested = Atomic<Bool>(false)
    func request() { requested.store(true, ordering: .relaxed) }
    var isRequested: Bool { requested.load(ordering: .relaxed) }
}
