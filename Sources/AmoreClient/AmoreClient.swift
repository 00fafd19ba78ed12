import AmoreCore
import AmoreKafka
import Logging

/// The API tier's view of Amore's rankings: follows the rankings topic (see
/// `RankingFollower`) and answers from memory, on any thread, without locks.
///
/// ```swift
/// let client = AmoreClient(configuration: KafkaConfiguration(bootstrapServers: "kafka:9092"))
/// Thread { try? client.run() }.start()          // or a ThreadService in a ServiceGroup
/// if let answer = client.ranking(lat_deg: 30.267, lon_deg: -97.743,
///                                filter: RankingFilter(style: .newYork, limit: 5)) {
///     answer.ranking.entries   // fastest first
///     answer.version           // send it back as min_version for monotonic reads
/// }
/// ```
public final class AmoreClient: Sendable {
    public let follower: RankingFollower
    /// Geohash precision of the engine's zones (a position maps to the zone of this size).
    public let zonePrecision: Int

    public init(configuration: KafkaConfiguration, settings: RankingFollower.Settings = .init(),
                zonePrecision: Int = MarketSettings().zonePrecision,
                logger: Logger = Logger(label: "amore.client")) {
        follower = RankingFollower(configuration: configuration, settings: settings, logger: logger)
        self.zonePrecision = zonePrecision
    }

    /// Follows the topic until `stop` (blocking: give it a thread).
    public func run() throws { try follower.run() }
    public func stop() { follower.stop() }

    /// Readiness, lag and counts.
    public var status: FollowerStatus { follower.status }
    /// The lock-free board the answers come from.
    public var board: RankingBoard { follower.board }

    /// A zone's ranking as `filter` asks; nil when the zone has none.
    public func ranking(zone: GeohashCell, filter: RankingFilter = RankingFilter()) -> RankingAnswer? {
        guard let snapshot = board.snapshot(of: zone) else { return nil }
        return RankingAnswer(ranking: ZoneRanking(zone: zone, snapshot: snapshot, board: board).filtered(filter))
    }

    /// The ranking of the zone containing a position.
    public func ranking(lat_deg: Double, lon_deg: Double, filter: RankingFilter = RankingFilter()) -> RankingAnswer? {
        ranking(zone: GeohashCell(lat_deg: lat_deg, lon_deg: lon_deg, precision: zonePrecision), filter: filter)
    }

    /// The zone's version on this client; 0 when it has none.
    public func version(of zone: GeohashCell) -> Int64 { board.version(of: zone) ?? 0 }

    /// Every new version of `zone` from now on, in order, each with its published JSON.
    public func updates(of zone: GeohashCell) -> AsyncStream<ZoneUpdate> { follower.updates.stream(of: zone) }
}

/// An answer and how fresh it is.
public struct RankingAnswer: Sendable, Equatable {
    public let ranking: ZoneRanking
    /// The zone's version (strictly increasing per zone): a client's consistency token.
    public var version: Int64 { ranking.version }
    /// The event time the ranking reflects.
    public var asOf_ms: Int64 { ranking.asOf_ms }
    /// How old the ranking is at `now_ms` (meaningful when producers' event time is wall time).
    public func age_ms(now_ms: Int64) -> Int64 { max(0, now_ms - ranking.asOf_ms) }
}
