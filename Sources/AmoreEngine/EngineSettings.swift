import AmoreCore
import AmoreKafka

/// Everything `Engine` needs to know; `amore run` fills it from flags and `AMORE_*`.
public struct EngineSettings: Sendable {
    /// Topic names (every one is configurable).
    public struct Topics: Sendable, Equatable {
        public var restaurants = "amore.restaurants"
        public var orders = "amore.orders"
        public var couriers = "amore.couriers"
        public var rankings = "amore.rankings"
        public var deadLetters = "amore.deadletter"
        public var checkpoints = "amore.checkpoints"

        public init() {}

        var all: [String] { [restaurants, orders, couriers, rankings, deadLetters, checkpoints] }
    }

    /// librdkafka properties for every client (bootstrap servers, security, tuning).
    public var kafka: KafkaConfiguration
    /// librdkafka defaults for the consumers (`kafka` wins), measured on the local broker:
    /// - librdkafka stops fetching a partition for `fetch.queue.backoff.ms` (1 s) once
    ///   `queued.min.messages` (100 k) are queued; a consumer doing microseconds of work
    ///   per record then waits on fetches (2.5 µs of work per record cut a consume loop
    ///   from 400 k to 125 k records/s; with these settings, 310 k);
    /// - a broker whose long poll does not return when data arrives (the local one)
    ///   holds every fetch for `fetch.wait.max.ms`: 500 ms by default put ~200 ms into
    ///   each record's delay; 5 ms puts ~2.5 ms on average (10 ms measured ~5 ms more at
    ///   p50 in the live benchmark) for at most 200 empty fetches a second when idle
    ///   (the local broker idles at 5 % of a core, 3 % at 10 ms). A broker whose long
    ///   poll works (Apache Kafka) answers as soon as data arrives: there, raise it
    ///   (`--kafka fetch.wait.max.ms=100`) to cut idle requests at no cost in delay.
    ///   But the local broker also answers a fetch *empty* when finding its offset takes
    ///   longer than `fetch.wait.max.ms`, and that search grows with the partition: at 5 ms
    ///   no record came back from a partition of 2.8 M records (50 ms: ~60 k records/s).
    ///   The engine reports such a partition as stalled (`/readyz`, `amore_fetch_stalled_partitions`);
    ///   runs with partitions that large (Benchmarks/failover) pass 50.
    public var consumerProperties: [String: String] = [
        "queued.min.messages": "1000000", "fetch.queue.backoff.ms": "10", "fetch.wait.max.ms": "5",
    ]
    /// librdkafka defaults for the producer of rankings and dead letters (`kafka` wins).
    /// Rankings are JSON of up to 50 entries (~13 KB) and compress ~10x: uncompressed,
    /// a city's refresh is megabytes that the broker must take before acknowledging.
    public var producerProperties: [String: String] = ["compression.type": "lz4", "linger.ms": "2"]
    public var topics = Topics()
    /// The consumer group the instances of one deployment share.
    public var groupID = "amore-engine"
    /// Partitions of the topics the engine creates when they are missing.
    public var partitions: Int32 = 4
    public var replicationFactor: Int32 = 1
    /// Whether pairs are checkpointed and restored from checkpoints (off: every gained
    /// pair replays its whole retained input, as before checkpoints; for comparisons).
    public var checkpoints = true
    /// A pair whose state changed is checkpointed this often (wall time), and on revoke
    /// and shutdown.
    public var checkpointInterval_ms: Int64 = 5_000
    /// A pair whose state did not change is checkpointed this often anyway, so that its
    /// newest checkpoint is never older than the input retained behind it.
    public var checkpointRefresh_ms: Int64 = 600_000
    /// How long input may wait for an owner (an outage, a stuck rebalance) and still be
    /// read: the margin in the retention rule below.
    public var retentionMargin_ms: Int64 = 3_600_000
    /// Retention of the input topics the engine creates. A restore replays from the
    /// newest usable checkpoint, or from the one before it (a torn or corrupt newest), which
    /// is at most two `checkpointRefresh_ms` old; input must also outlast
    /// `retentionMargin_ms` without an owner. Without checkpoints, state is rebuilt by
    /// replaying everything retained: 6 h.
    public var inputRetention_ms: Int64 {
        checkpoints ? 2 * checkpointRefresh_ms + retentionMargin_ms : 6 * 3_600_000
    }
    public var market = MarketSettings()
    /// Records taken from the consumer per poll (the loop commits, checks idle pairs and
    /// reads profile updates between polls, so this also bounds how long those wait).
    public var maxBatchRecords = 2_000
    /// How long one pass of the loop may apply buffered events before it polls again.
    /// A poll is where this instance takes part in a rebalance: without a bound, an
    /// instance working through a backlog (a replay, a catch-up) held its whole group's
    /// rebalance up for as long as one pass took (a debug engine in a chaos run: 7 to 44 s
    /// in librdkafka's `wait-unassign-call`). What is left is applied next pass.
    public var applyBudget_ms: Int64 = 50
    /// Events read but not yet applied, beyond which a poll takes one record (it still
    /// serves rebalances and errors): the buffer stays bounded when applying falls behind.
    public var maxBufferedEvents = 20_000
    /// How long a stop may go on applying what was read before its final commit and
    /// checkpoint; what is left is the next owner's, which resumes at the first event not
    /// applied. Applying the whole buffer took a debug engine in a CI chaos run ~43 s
    /// after its SIGTERM, while the moved markets waited and Kubernetes' grace period ran.
    public var stopApplyBudget_ms: Int64 = 1_000
    /// A partition pair whose input has been quiet (and read to its end) this long has
    /// its rankings brought up to its last event, instead of waiting for the next
    /// resolution step that only a later event would cross.
    public var idleRefresh_ms: Int64 = 100
    /// How long a partition read to its end, whose latest event is earlier than the other
    /// partition's next one, holds that one back (`PartitionPair`; Kafka Streams calls it
    /// `max.task.idle.ms`). 0 applies at once, the lowest delay, and lets a record that
    /// arrives late land after a refresh it belongs before; more makes live rankings equal
    /// a replay's, at up to this much delay while the other side is quiet.
    public var mergeWait_ms: Int64 = 0
    /// How often offsets whose rankings are acknowledged are committed.
    public var commitInterval_ms: Int64 = 200
    /// A partition further behind its end than this many records is catching up (a
    /// replay of history, a backlog after an outage): its changed zones are published
    /// once per `catchUpPublishInterval_ms`, each at its latest version, instead of at every
    /// refresh (the rankings topic keeps the latest value per zone; publishing every
    /// intermediate version of a backlog would make the output many times the input).
    public var catchUpLag = 5_000
    /// How often a catching-up partition's held-back zones are published (and its
    /// offsets committed).
    public var catchUpPublishInterval_ms: Int64 = 2_000
    /// How far ahead of a record's timestamp its event time may be.
    public var maxFutureSkew_ms: Int64 = 300_000

    public init(kafka: KafkaConfiguration) {
        self.kafka = kafka
    }
}
