import AmoreCore
import CoreMetrics

/// The engine's metrics, through swift-metrics (the backend, e.g. Prometheus, is the
/// caller's choice). Counters of input records are added once per polled batch, not
/// once per record.
final class EngineMetrics: Sendable {
    let recordsIn: [String: [Counter]]
    let rejects: [EventRejection.Reason: Counter]
    let publications: Counter
    let deadLetters: Counter
    let eventToPublication: Timer
    let restaurants: Gauge
    let couriers: Gauge
    let zones: Gauge
    let markets: Gauge
    /// Encoding and enqueueing one pair's checkpoint (on the engine thread).
    let checkpointWrite: Timer
    /// Reading, checking and restoring a pair's newest usable checkpoint.
    let checkpointLoad: Timer
    /// From gaining a pair to its state at the committed offsets, by how it got there.
    let restore: [RestoreProgress.Source: Timer]
    let replayedRecords: Counter
    let checkpointsPassedOver: Counter
    let restoringPairs: Gauge
    /// Input partitions with records waiting that no fetch has returned for `fetchStallLimit_ns`.
    let stalledPartitions: Gauge
    /// Seeks made to restart a stalled partition's fetch.
    let fetchResets: Counter
    /// Pairs with events applied since their rankings were last brought up to their last
    /// event (the idle refresh's work still to do), as of the end of the latest loop pass.
    let pairsAwaitingIdleRefresh: Gauge
    /// Records produced (rankings, dead letters, checkpoint chunks) and not yet
    /// acknowledged, as of the end of the latest loop pass.
    let unacknowledgedPublications: Gauge
    let factory: MetricsFactory

    static let orderTypes = OrderEventType.allCases.map { "\($0.name)" }
    static let courierTypes = CourierStatus.allCases.map { "\($0.name)" }

    init(factory: MetricsFactory, topics: EngineSettings.Topics) {
        self.factory = factory
        func counters(_ topic: String, _ types: [String]) -> [Counter] {
            types.map { Counter(label: "amore_records_in_total", dimensions: [("topic", topic), ("type", $0)], factory: factory) }
        }
        recordsIn = [
            topics.orders: counters(topics.orders, Self.orderTypes),
            topics.couriers: counters(topics.couriers, Self.courierTypes),
            topics.restaurants: counters(topics.restaurants, ["profile"]),
        ]
        rejects = Dictionary(uniqueKeysWithValues: EventRejection.Reason.allCases.map {
            ($0, Counter(label: "amore_rejected_records_total", dimensions: [("reason", $0.rawValue)], factory: factory))
        })
        publications = Counter(label: "amore_publications_total", factory: factory)
        deadLetters = Counter(label: "amore_dead_letters_total", factory: factory)
        eventToPublication = Timer(label: "amore_event_to_publication_seconds", factory: factory)
        restaurants = Gauge(label: "amore_restaurants", factory: factory)
        couriers = Gauge(label: "amore_couriers", factory: factory)
        zones = Gauge(label: "amore_zones", factory: factory)
        markets = Gauge(label: "amore_markets", factory: factory)
        checkpointWrite = Timer(label: "amore_checkpoint_write_seconds", factory: factory)
        checkpointLoad = Timer(label: "amore_checkpoint_load_seconds", factory: factory)
        restore = [
            .checkpoint: Timer(label: "amore_restore_seconds", dimensions: [("from", "checkpoint")], factory: factory),
            .fullReplay: Timer(label: "amore_restore_seconds", dimensions: [("from", "full_replay")], factory: factory),
        ]
        replayedRecords = Counter(label: "amore_restore_replayed_records_total", factory: factory)
        checkpointsPassedOver = Counter(label: "amore_checkpoints_passed_over_total", factory: factory)
        restoringPairs = Gauge(label: "amore_restoring_pairs", factory: factory)
        stalledPartitions = Gauge(label: "amore_fetch_stalled_partitions", factory: factory)
        fetchResets = Counter(label: "amore_fetch_resets_total", factory: factory)
        pairsAwaitingIdleRefresh = Gauge(label: "amore_pairs_awaiting_idle_refresh", factory: factory)
        unacknowledgedPublications = Gauge(label: "amore_unacknowledged_publications", factory: factory)
    }

    func checkpointBytes(partition: Int32) -> Gauge {
        Gauge(label: "amore_checkpoint_bytes", dimensions: [("partition", String(partition))], factory: factory)
    }

    func checkpointAge(partition: Int32) -> Gauge {
        Gauge(label: "amore_checkpoint_age_seconds", dimensions: [("partition", String(partition))], factory: factory)
    }

    func lag(topic: String, partition: Int32) -> Gauge {
        Gauge(label: "amore_consumer_lag", dimensions: [("topic", topic), ("partition", String(partition))], factory: factory)
    }
}
