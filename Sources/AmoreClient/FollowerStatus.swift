import Synchronization

/// What the follower shows other threads: readiness and progress. Plain atomics, read
/// from request threads without locks.
public final class FollowerStatus: Sendable {
    private let bootstrapped = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let lag = Atomic<Int64>(-1)
    private let applied = Atomic<Int>(0)
    private let rejected = Atomic<Int>(0)
    private let bootstrap_ms = Atomic<Int64>(-1)
    private let bootstrapRead = Atomic<Int>(0)
    private let lastLoop_ns = Atomic<UInt64>(0)
    /// Ready needs lag at or under this many records.
    public let maxReadyLag_records: Int64

    init(maxReadyLag_records: Int64) {
        self.maxReadyLag_records = maxReadyLag_records
    }

    /// Caught up with the end of the topic seen at start, within `maxReadyLag_records`
    /// of its end now, and not stopping.
    public var isReady: Bool {
        bootstrapped.load(ordering: .acquiring) && !stopping.load(ordering: .relaxed)
            && (0...maxReadyLag_records).contains(lag.load(ordering: .relaxed))
    }

    /// Why not ready, in words; nil when ready.
    public var notReadyReason: String? {
        if stopping.load(ordering: .relaxed) { return "stopping" }
        if !bootstrapped.load(ordering: .acquiring) { return "reading the rankings topic's tail (bootstrap)" }
        let lag = lag.load(ordering: .relaxed)
        if lag < 0 { return "lag not known yet" }
        if lag > maxReadyLag_records { return "\(lag) records behind the rankings topic (bound \(maxReadyLag_records))" }
        return nil
    }

    /// Records between what has been applied and the end of the topic (all partitions); -1 before it is known.
    public var lag_records: Int64 { lag.load(ordering: .relaxed) }
    /// Ranking records applied since start (bootstrap included).
    public var appliedRecords: Int { applied.load(ordering: .relaxed) }
    /// Records that were not a valid ranking (skipped, counted).
    public var rejectedRecords: Int { rejected.load(ordering: .relaxed) }
    /// How long the bootstrap took; nil until it is done.
    public var bootstrapDuration_ms: Int64? { let value = bootstrap_ms.load(ordering: .relaxed); return value < 0 ? nil : value }
    /// Records read during the bootstrap (the tail, not the topic).
    public var bootstrapRecords: Int { bootstrapRead.load(ordering: .relaxed) }

    /// Alive: the follower's loop went round within `stallLimit_ns`, or has not started.
    public func isHealthy(now_ns: UInt64, stallLimit_ns: UInt64 = 10_000_000_000) -> Bool {
        let last = lastLoop_ns.load(ordering: .relaxed)
        return last == 0 || now_ns &- last < stallLimit_ns
    }

    func markBootstrapped(duration_ms: Int64, records: Int) {
        bootstrap_ms.store(duration_ms, ordering: .relaxed)
        bootstrapRead.store(records, ordering: .relaxed)
        bootstrapped.store(true, ordering: .releasing)
    }
    func markStopping() { stopping.store(true, ordering: .relaxed) }
    func setLag(_ records: Int64) { lag.store(records, ordering: .relaxed) }
    func addApplied(_ count: Int) { applied.add(count, ordering: .relaxed) }
    func addRejected(_ count: Int) { rejected.add(count, ordering: .relaxed) }
    func markLoop(now_ns: UInt64) { lastLoop_ns.store(now_ns, ordering: .relaxed) }
}
