import AmoreKafka

/// Finds input partitions whose fetches have returned no record for `limit_ns` although
/// records are waiting (the high watermark is past the fetch position).
///
/// Seen with the local broker (Tansu 0.6, memory storage): it answers a fetch empty when
/// finding the fetch offset takes longer than the request's `fetch.wait.max.ms`, and that
/// search grows with the partition (at 5 ms no record came back from a partition of
/// 2.8 M records; at 50 ms it read ~60 k records/s). Without this watch the engine would
/// wait silently and forever. Apache Kafka answers as soon as it has data. A stalled
/// partition is reset by a seek to its own position (a new fetch from there, as a fresh
/// client would make), which the local broker then answers.
///
/// An engine that is behind (its polls come back full) is not watched: the records it
/// has not taken yet are waiting in the consumer's own queue, and a reset would throw
/// them away. (A debug build under the chaos load was behind by minutes; the watch,
/// which then took that for the broker, reset partitions over and over.)
struct FetchStallWatch {
    struct Observation {
        var partition: TopicPartition
        /// The next offset to fetch.
        var position: Int64
        var highWatermark: Int64
    }

    struct Stall: Equatable {
        var partition: TopicPartition
        var position: Int64
        var waiting: Int64
        var duration_ns: UInt64
        /// First report of this stall (log it once).
        var isNew: Bool
        /// Time to reset the partition's fetch (a seek to its position): on the first
        /// report, then every `limit_ns` while the stall lasts.
        var recover: Bool
    }

    /// 3 s: long enough that a partition merely waiting its turn in a busy fetcher is not
    /// reset (a reset costs one refetch), short enough that the local broker's stalls,
    /// which a reset lifts for one fetch (1 MB), do not hold a catch-up for long.
    var limit_ns: UInt64 = 3_000_000_000
    private var watched: [TopicPartition: Entry] = [:]
    /// Until when the engine counts as behind (`limit_ns` after its last full poll).
    private var behindUntil_ns: UInt64 = 0

    private struct Entry {
        var position: Int64
        var since_ns: UInt64
        /// When the stall was last reported for recovery; 0 before the first report.
        var recovered_ns: UInt64 = 0
    }

    /// A poll that asked for `asked` records returned `records`. As many as asked for
    /// means more wait in the consumer's queue: the engine is behind. That includes the
    /// one-record polls of an engine whose buffer is full (`maxBufferedEvents`): counting
    /// only full-size polls, a debug engine replaying with a full buffer took one record
    /// a pass, saw the partitions it was not taking from as stalled and reset them every
    /// few seconds, throwing away what librdkafka had fetched (7 resets in a 49,000-record
    /// replay; none since).
    mutating func polled(records: Int, asked: Int, now_ns: UInt64) {
        if records >= asked { behindUntil_ns = now_ns + limit_ns }
    }

    /// The stalled partitions among `observations` (every owned partition, each call);
    /// partitions not observed are forgotten, and so is everything while the engine is
    /// behind (each partition's clock starts again once it has caught up).
    mutating func observe(_ observations: [Observation], now_ns: UInt64) -> [Stall] {
        if now_ns < behindUntil_ns {
            watched = [:]
            return []
        }
        var next: [TopicPartition: Entry] = [:]
        var stalls: [Stall] = []
        for observation in observations {
            let waiting = observation.highWatermark - observation.position
            var entry = watched[observation.partition] ?? Entry(position: observation.position, since_ns: now_ns)
            if waiting <= 0 || entry.position != observation.position {
                entry = Entry(position: observation.position, since_ns: now_ns)
            } else if now_ns - entry.since_ns >= limit_ns {
                let recover = entry.recovered_ns == 0 || now_ns - entry.recovered_ns >= limit_ns
                stalls.append(Stall(partition: observation.partition, position: observation.position, waiting: waiting,
                                    duration_ns: now_ns - entry.since_ns, isNew: entry.recovered_ns == 0, recover: recover))
                if recover { entry.recovered_ns = now_ns }
            }
            next[observation.partition] = entry
        }
        watched = next
        return stalls
    }
}
