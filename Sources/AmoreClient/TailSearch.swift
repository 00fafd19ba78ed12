import AmoreKafka

/// Where the tail of a partition that covers the last `tail_ms` of record time starts:
/// the first offset whose record timestamp is at or after (newest timestamp − tail_ms),
/// give or take `closeEnough_records` earlier. A search on record timestamps, all
/// partitions in step (one fetch round per step), because OffsetsForTimes is not something every broker
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
    static let readWholeBelow_records: Int64 = 256

    /// Close enough: reading up to this many records too many costs less than a round.
    static let closeEnough_records: Int64 = 64

    /// Each partition's first offset to read (its `low` when short or when everything is
    /// within the tail; its `high` when empty).
    ///
    /// Rounds: the newest record, then the oldest, then guesses. A ranking topic's record
    /// times grow about linearly with offsets, so each guess interpolates the target time
    /// between the bounds' times; every other round bisects instead, which bounds the
    /// rounds at twice a binary search's whatever the times look like. A round costs a
    /// fetch (~100 ms on the local broker), so the search stops once the bounds are
    /// `closeEnough_records` apart and reads from the lower one.
    static func starts(consumer: Consumer, topic: String, ranges: [Range], tail_ms: Int64,
                       timeout_ms: Int64 = 10_000, shouldStop: () -> Bool) throws -> [Int32: Int64] {
        struct Bounds {
            var lo: Int64
            var loTime_ms: Int64?
            var hi: Int64
            var hiTime_ms: Int64
            let target_ms: Int64
            var round = 0
        }
        var starts: [Int32: Int64] = [:]
        var probe: [Int32: Int64] = [:]
        for range in ranges {
            if range.high - range.low < readWholeBelow_records {
                starts[range.partition] = range.low
            } else {
                probe[range.partition] = range.high - 1
            }
        }
        let newest = try read(consumer: consumer, topic: topic, at: probe, timeout_ms: timeout_ms, shouldStop: shouldStop)
        var searching: [Int32: Bounds] = [:]
        for range in ranges where probe[range.partition] != nil {
            guard let record = newest[range.partition] else { starts[range.partition] = range.low; continue }
            searching[range.partition] = Bounds(lo: range.low, hi: record.offset, hiTime_ms: record.timestamp_ms,
                                                target_ms: record.timestamp_ms - tail_ms)
        }
        while !searching.isEmpty && !shouldStop() {
            var guesses: [Int32: Int64] = [:]
            for (partition, bounds) in searching {
                if bounds.hi - bounds.lo <= closeEnough_records {
                    starts[partition] = bounds.lo
                } else if bounds.loTime_ms == nil {
                    guesses[partition] = bounds.lo  // the oldest record: is everything in the tail?
                } else if bounds.round % 2 == 0, let loTime = bounds.loTime_ms, bounds.hiTime_ms > loTime {
                    let fraction = Double(bounds.target_ms - loTime) / Double(bounds.hiTime_ms - loTime)
                    let guess = bounds.lo + Int64(fraction * Double(bounds.hi - bounds.lo))
                    guesses[partition] = min(max(guess, bounds.lo + 1), bounds.hi - 1)
                } else {
                    guesses[partition] = bounds.lo + (bounds.hi - bounds.lo) / 2
                }
            }
            for partition in starts.keys { searching[partition] = nil }
            if guesses.isEmpty { break }
            let found = try read(consumer: consumer, topic: topic, at: guesses, timeout_ms: timeout_ms, shouldStop: shouldStop)
            for (partition, guess) in guesses {
                guard var bounds = searching[partition] else { continue }
                bounds.round += 1
                defer { if bounds.round > 60 { starts[partition] = bounds.lo; searching[partition] = nil } }
                guard let record = found[partition] else {
                    bounds.hi = guess  // nothing readable from the guess on: search below it
                    if bounds.loTime_ms == nil { bounds.loTime_ms = bounds.target_ms }
                    searching[partition] = bounds
                    continue
                }
                // What a record says holds for its own offset, whichever probe fetched it
                // (a seek may still let through records fetched before it).
                if record.timestamp_ms < bounds.target_ms {
                    if record.offset >= bounds.lo {
                        bounds.lo = record.offset + 1
                        bounds.loTime_ms = record.timestamp_ms
                    }
                } else if record.offset == bounds.lo {
                    starts[partition] = bounds.lo  // the oldest left is already in the tail
                    searching[partition] = nil
                    continue
                } else if record.offset < bounds.hi {
                    bounds.hi = record.offset
                    bounds.hiTime_ms = record.timestamp_ms
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
        let positions = offsets.map { TopicPartition(topic, $0.key, offset: $0.value) }
        // The first round assigns; later ones seek (the fetcher stays up, and a seek
        // discards what was fetched before it).
        if try Set(consumer.assignment().map(\.partition)).isSuperset(of: offsets.keys) {
            try consumer.seek(positions)
        } else {
            try consumer.assign(positions)
        }
        // Every probed offset is below its partition's end, so a record comes; an end-of-
        // partition event here is one left from before the seek, not an answer.
        var found: [Int32: (offset: Int64, timestamp_ms: Int64)] = [:]
        let deadline = ContinuousClock.now + .milliseconds(timeout_ms)
        while found.count < offsets.count && ContinuousClock.now < deadline && !shouldStop() {
            consumer.poll(maxRecords: 1_000, timeout_ms: 50) { batch in
                for record in batch where found[record.partition] == nil {
                    guard let wanted = offsets[record.partition], record.offset >= wanted else { continue }
                    found[record.partition] = (record.offset, record.timestamp_ms)
                }
            }
        }
        return found
    }
}
