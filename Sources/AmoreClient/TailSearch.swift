import AmoreKafka

/// Where the tail of a partition that covers the last `tail_ms` of record time starts:
/// the first offset whose record timestamp is at or after (newest timestamp − tail_ms).
/// A binary search on record timestamps, all partitions in step (one fetch round per
/// step, ~log2(records) rounds), because OffsetsForTimes is not something every broker
/// answers correctly (the local broker ignores the timestamp). Timestamps of a ranking
/// topic are its producers' clocks at publication: close to ordered, and the margin in
/// `tail_ms` absorbs the rest.
enum TailSearch {
    struct Range {
        let partition: Int32
        let low: Int64
        /// One past the last offset.
        let high: Int64
    }

    /// Partitions this short are read whole: a search would cost more rounds than the read.
    static let readWholeBelow_records: Int64 = 2_000

    /// Each partition's first offset to read (its `low` when short or when everything is
    /// within the tail; its `high` when empty).
    static func starts(consumer: Consumer, topic: String, ranges: [Range], tail_ms: Int64,
                       timeout_ms: Int64 = 10_000, shouldStop: () -> Bool) throws -> [Int32: Int64] {
        var starts: [Int32: Int64] = [:]
        // The newest record of each partition long enough to search.
        var searching: [Int32: (lo: Int64, hi: Int64, target_ms: Int64)] = [:]
        var probe: [Int32: Int64] = [:]
        for range in ranges {
            if range.high - range.low < readWholeBelow_records {
                starts[range.partition] = range.low
            } else {
                probe[range.partition] = range.high - 1
            }
        }
        let newest = try read(consumer: consumer, topic: topic, at: probe, timeout_ms: timeout_ms, shouldStop: shouldStop)
        for range in ranges where probe[range.partition] != nil {
            guard let record = newest[range.partition] else { starts[range.partition] = range.low; continue }
            searching[range.partition] = (range.low, range.high - 1, record.timestamp_ms - tail_ms)
        }
        while !searching.isEmpty && !shouldStop() {
            var middles: [Int32: Int64] = [:]
            for (partition, bounds) in searching {
                if bounds.lo >= bounds.hi {
                    starts[partition] = bounds.lo
                } else {
                    middles[partition] = bounds.lo + (bounds.hi - bounds.lo) / 2
                }
            }
            for partition in starts.keys { searching[partition] = nil }
            if middles.isEmpty { break }
            let found = try read(consumer: consumer, topic: topic, at: middles, timeout_ms: timeout_ms, shouldStop: shouldStop)
            for (partition, middle) in middles {
                guard var bounds = searching[partition] else { continue }
                // A record at or after the middle (compaction leaves gaps).
                if let record = found[partition], record.timestamp_ms < bounds.target_ms {
                    bounds.lo = record.offset + 1
                } else {
                    bounds.hi = middle
                }
                searching[partition] = bounds
            }
        }
        return starts
    }

    /// The first record at or after each offset, per partition (offset and timestamp).
    private static func read(consumer: Consumer, topic: String, at offsets: [Int32: Int64], timeout_ms: Int64,
                             shouldStop: () -> Bool) throws -> [Int32: (offset: Int64, timestamp_ms: Int64)] {
        guard !offsets.isEmpty else { return [:] }
        try consumer.assign(offsets.map { TopicPartition(topic, $0.key, offset: $0.value) })
        var found: [Int32: (offset: Int64, timestamp_ms: Int64)] = [:]
        var ended = Set<Int32>()
        let deadline = ContinuousClock.now + .milliseconds(timeout_ms)
        while found.count + ended.count < offsets.count && ContinuousClock.now < deadline && !shouldStop() {
            consumer.poll(maxRecords: 1_000, timeout_ms: 50) { batch in
                for record in batch where found[record.partition] == nil {
                    guard let wanted = offsets[record.partition], record.offset >= wanted else { continue }
                    found[record.partition] = (record.offset, record.timestamp_ms)
                }
                for end in batch.reachedEnd where found[end.partition] == nil { ended.insert(end.partition) }
            }
        }
        return found
    }
}
