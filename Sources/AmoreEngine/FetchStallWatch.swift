import AmoreKafka

/// Finds input partitions whose fetches have returned no record for `limit_ns` although
/// records are waiting (the high watermark is past the fetch position).
///
/// Seen with the local broker (Tansu 0.6, memory storage): it answers a fetch empty when
/// finding the fetch offset takes longer than the request's `fetch.wait.max.ms`, and that
/// search grows with the partition (at 5 ms no record came back from a partition of
/// 2.8 M records; at 50 ms it read ~60 k records/s). Without this watch the engine would
/// wait silently and forever. Apache Kafka answers as soon as it has data.
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
    }

    var limit_ns: UInt64 = 10_000_000_000
    private var watched: [TopicPartition: (position: Int64, since_ns: UInt64, reported: Bool)] = [:]

    /// The stalled partitions among `observations` (every owned partition, each call);
    /// partitions not observed are forgotten.
    mutating func observe(_ observations: [Observation], now_ns: UInt64) -> [Stall] {
        var next: [TopicPartition: (position: Int64, since_ns: UInt64, reported: Bool)] = [:]
        var stalls: [Stall] = []
        for observation in observations {
            let waiting = observation.highWatermark - observation.position
            var entry = watched[observation.partition] ?? (observation.position, now_ns, false)
            if waiting <= 0 || entry.position != observation.position {
                entry = (observation.position, now_ns, false)
            } else if now_ns - entry.since_ns >= limit_ns {
                stalls.append(Stall(partition: observation.partition, position: observation.position, waiting: waiting,
                                    duration_ns: now_ns - entry.since_ns, isNew: !entry.reported))
                entry.reported = true
            }
            next[observation.partition] = entry
        }
        watched = next
        return stalls
    }
}
