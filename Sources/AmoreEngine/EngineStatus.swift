#if canImport(Glibc)
import Glibc
#endif
import AmoreCore
import Synchronization

/// What the engine shows other threads (HTTP handlers, the service around it): its
/// readiness and liveness, and the lock-free ranking index it writes.
public final class EngineStatus: Sendable {
    /// The instance's rankings: written by the engine thread only, read by anyone.
    public let board: RankingBoard
    /// Every restaurant profile read (the map's dots and names).
    public let restaurants = RestaurantDirectory()
    public let zonePrecision: Int
    private let profilesLoaded = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let lastLoop_ns = Atomic<UInt64>(0)
    private let applied = Atomic<Int>(0)
    private let restoring = Mutex<[String]>([])
    /// Wall time (ms) since which no broker has been reachable; 0 while Kafka answers.
    private let kafkaDownSince_ms = Atomic<Int64>(0)
    /// Wall time (ms) of the first transport error not yet checked by a probe; 0 if none.
    private let kafkaSuspectSince_ms = Atomic<Int64>(0)

    init(board: RankingBoard, zonePrecision: Int) {
        self.board = board
        self.zonePrecision = zonePrecision
    }

    /// Ready to serve: every restaurant profile read, Kafka reachable, and not shutting down.
    /// (Queries are answered from the last rankings whatever this says.)
    public var isReady: Bool {
        profilesLoaded.load(ordering: .acquiring) && !stopping.load(ordering: .relaxed) && kafkaUnreachable_ms == nil
    }

    /// How long no broker has been reachable (librdkafka's "all brokers down"), or nil.
    public var kafkaUnreachable_ms: Int64? {
        let since = kafkaDownSince_ms.load(ordering: .relaxed)
        return since == 0 ? nil : max(0, Clock.wall_ms() - since)
    }

    /// Why the instance is not ready, in a line; nil when it is.
    public var notReadyReason: String? {
        if stopping.load(ordering: .relaxed) { return "stopping" }
        if let down_ms = kafkaUnreachable_ms { return "no Kafka broker reachable for \(down_ms) ms (answering from the last rankings)" }
        if !profilesLoaded.load(ordering: .acquiring) { return "restaurant profiles not loaded yet" }
        return nil
    }

    /// Alive: the engine's loop went round within `stallLimit_ns` (it polls at least every
    /// few milliseconds), or it has not started yet.
    public func isHealthy(stallLimit_ns: UInt64 = 10_000_000_000) -> Bool {
        let now_ns = Clock.monotonic_ns()
        let last = lastLoop_ns.load(ordering: .relaxed)
        return last == 0 || now_ns &- last < stallLimit_ns
    }

    /// Order events and courier pings applied since start (replays included): progress.
    public var appliedEvents: Int { applied.load(ordering: .relaxed) }

    /// The pairs whose markets publish no fresh rankings yet, and why (refreshed every second).
    public var notServing: [String] { restoring.withLock { $0 } }

    func setRestoring(_ pairs: [String]) { restoring.withLock { $0 = pairs } }
    func addApplied(_ count: Int) { applied.add(count, ordering: .relaxed) }
    func markProfilesLoaded() { profilesLoaded.store(true, ordering: .releasing) }
    func markStopping() { stopping.store(true, ordering: .relaxed) }
    func markLoop(now_ns: UInt64) { lastLoop_ns.store(now_ns, ordering: .relaxed) }
    /// A connection to a broker failed: Kafka may be gone. A probe decides
    /// (`confirmKafkaUnreachable` or `markKafkaReachable`); one broker of several
    /// restarting, or an idle connection closed, must not make the instance unready.
    func suspectKafkaUnreachable() {
        _ = kafkaSuspectSince_ms.compareExchange(expected: 0, desired: Clock.wall_ms(), ordering: .relaxed)
    }
    /// No broker answers: unreachable since the first suspicion (or now), kept at that time.
    /// Returns whether this call made it so.
    @discardableResult
    func confirmKafkaUnreachable() -> Bool {
        let suspected = kafkaSuspectSince_ms.load(ordering: .relaxed)
        return kafkaDownSince_ms.compareExchange(expected: 0, desired: suspected != 0 ? suspected : Clock.wall_ms(),
                                                 ordering: .relaxed).exchanged
    }
    func markKafkaReachable() {
        kafkaSuspectSince_ms.store(0, ordering: .relaxed)
        kafkaDownSince_ms.store(0, ordering: .relaxed)
    }
    /// Whether a probe is due: a transport error was seen, or Kafka is marked unreachable.
    var kafkaInDoubt: Bool {
        kafkaSuspectSince_ms.load(ordering: .relaxed) != 0 || kafkaDownSince_ms.load(ordering: .relaxed) != 0
    }
    var kafkaMarkedUnreachable: Bool { kafkaDownSince_ms.load(ordering: .relaxed) != 0 }
}

enum Clock {
    static func monotonic_ns() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func wall_ns() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    static func wall_ms() -> Int64 { wall_ns() / 1_000_000 }
}
