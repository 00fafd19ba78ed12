import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A zone's ranking as a reader saw it: one consistent version, never half-written.
/// It holds the board's packed words (copied under the zone's sequence, the shortest
/// possible window) and decodes an entry when it is asked for.
public struct ZoneSnapshot: Sendable, Equatable {
    /// Strictly increasing per zone; 0 before the first publication.
    public var version: Int64 = 0
    /// The event time the ranking reflects.
    public var asOf_ms: Int64 = 0
    /// Directory index of the zone's market (`RankingBoard.identifier(at:)`).
    public var market: Int32 = 0
    @usableFromInline var handoff_s: Int32 = 0
    /// `RankedRestaurant.wordCount` words per entry.
    @usableFromInline var words: [UInt64] = []

    public init() {}

    /// Fastest first; at most the `limit` read.
    @inlinable public var entries: Entries { Entries(words: words, handoff_s: handoff_s) }

    public struct Entries: RandomAccessCollection, Sendable {
        @usableFromInline let words: [UInt64]
        @usableFromInline let handoff_s: Int32

        @inlinable init(words: [UInt64], handoff_s: Int32) {
            self.words = words
            self.handoff_s = handoff_s
        }

        @inlinable public var startIndex: Int { 0 }
        @inlinable public var endIndex: Int { words.count / RankedRestaurant.wordCount }

        @inlinable
        public subscript(position: Int) -> RankedRestaurant {
            let first = position * RankedRestaurant.wordCount
            return RankedRestaurant(words: (words[first], words[first + 1], words[first + 2]), handoff_s: handoff_s)
        }
    }
}

/// The read side of the zone rankings: one writer publishes, any number of threads read,
/// with no lock and no reference counting on the read path, and the writer never waits.
///
/// Why sequence-locked slots (measured in `Benchmarks/CoreRankings`): each zone owns a
/// fixed record of plain words that the writer overwrites in place, bracketed by a
/// sequence number (odd while writing). A reader loads the sequence, copies the words it
/// wants, and keeps the copy only if the sequence is even and unchanged. A read is a few
/// plain loads on x86 (acquire and relaxed atomics compile to `mov`), touches no shared
/// counter, and replaced rankings need no reclamation: nothing is freed while the board
/// lives. Epoch-based reclamation of immutable snapshots would make every read announce
/// its epoch with a store and a full fence (~20 ns here) and the writer allocate per
/// publication; an `AtomicReference` load costs ~55 ns under contention.
/// The price: a zone lists at most `maxEntriesPerZone` restaurants, and a reader that
/// races a write retries (the writer holds a zone for well under a microsecond).
///
/// Layout: the zone table is open-addressed with 320-byte records holding the key, the
/// sequence, version, as-of, count, hand-off and the first ten entries (3 words
/// each: parts only, sums derived), so that finding a zone and reading its top ten touch
/// one record of five adjacent cache lines; further entries live in a slot per zone.
/// Every word is an atomic (relaxed where the sequence orders it), so the races the
/// protocol tolerates are not data races, and ThreadSanitizer checks the rest.
public final class RankingBoard: @unchecked Sendable {
    public let maxEntriesPerZone: Int
    public let maxZones: Int
    public let maxIdentifiers: Int

    // Zone record words.
    @usableFromInline static var recordWords: Int { 40 }
    // The first cache line holds what `best(in:)` needs: key, sequence, version, as-of,
    // market | count | hand-off, and the first entry; the next four hold entries 1-9.
    @usableFromInline static var keyWord: Int { 0 }
    @usableFromInline static var sequenceWord: Int { 1 }
    @usableFromInline static var versionWord: Int { 2 }
    @usableFromInline static var asOfWord: Int { 3 }
    /// market << 32 | hand-off_s << 16 | entry count
    @usableFromInline static var headerWord: Int { 4 }
    @usableFromInline static var slotWord: Int { 8 }
    @usableFromInline static var inlineCount: Int { 10 }

    /// Where inline entry `index` (0..<10) starts in a record.
    @inlinable @inline(__always)
    static func inlineEntryWord(_ index: Int) -> Int { index == 0 ? 5 : 7 + RankedRestaurant.wordCount * index }

    @inlinable @inline(__always)
    static func unpackHeader(_ word: UInt64) -> (market: Int32, handoff_s: Int32, count: Int) {
        (Int32(truncatingIfNeeded: word >> 32), Int32(truncatingIfNeeded: (word >> 16) & 0xFFFF), Int(word & 0xFFFF))
    }

    @usableFromInline let tableMask: Int
    @usableFromInline let tableShift: UInt64
    @usableFromInline let records: UnsafeMutablePointer<Atomic<UInt64>>
    private var overflowWords: Int { max(0, maxEntriesPerZone - Self.inlineCount) * RankedRestaurant.wordCount }

    // Restaurant and market ids the rankings refer to; each written once, before any
    // ranking that names it is published (the zone's release store orders it for readers).
    private let identifiers: UnsafeMutablePointer<Identifier>

    // Writer only.
    private var identifierIndices = IdentifierIndex()
    private var allocatedSlots: [UnsafeMutablePointer<Atomic<UInt64>>] = []
    private var zonesInUse = 0
    /// `zonesInUse` for other threads (a capacity hint only).
    private let zonesInUseForReaders = Atomic<Int>(0)

    public init(maxEntriesPerZone: Int = 50, maxZones: Int = 1 << 14, maxIdentifiers: Int = 1 << 16) {
        precondition(maxEntriesPerZone > 0 && maxEntriesPerZone <= 0xFFFF && maxZones > 0 && maxIdentifiers > 0)
        self.maxEntriesPerZone = maxEntriesPerZone
        self.maxZones = maxZones
        self.maxIdentifiers = maxIdentifiers
        // At most half full, so probes stay short.
        var tableSize = 2
        var bits: UInt64 = 1
        while tableSize < 2 * maxZones { tableSize <<= 1; bits += 1 }
        tableMask = tableSize - 1
        tableShift = 64 - bits
        let words = tableSize * Self.recordWords
        records = UnsafeMutableRawPointer.allocate(byteCount: words * 8, alignment: 64)
            .bindMemory(to: Atomic<UInt64>.self, capacity: words)
        for word in 0..<words { (records + word).initialize(to: Atomic(0)) }
        identifiers = .allocate(capacity: maxIdentifiers)
    }

    deinit {
        records.deinitialize(count: (tableMask + 1) * Self.recordWords)
        UnsafeMutableRawPointer(records).deallocate()
        identifiers.deinitialize(count: identifierIndices.count).deallocate()
        for slot in allocatedSlots { slot.deinitialize(count: overflowWords).deallocate() }
    }

    /// Zones published so far (any thread).
    public var zoneCount: Int { zonesInUseForReaders.load(ordering: .relaxed) }

    // MARK: Reading (any thread)

    /// The id behind a `RankedRestaurant.restaurant` or `ZoneSnapshot.market` index read
    /// from this board.
    public func identifier(at index: Int32) -> Identifier { identifiers[Int(index)] }

    /// The zone's fastest restaurant, with the version and as-of time it belongs to;
    /// nil when the zone has no ranking or an empty one.
    @inlinable
    public func best(in zone: GeohashCell) -> (entry: RankedRestaurant, version: Int64, asOf_ms: Int64)? {
        guard let record = record(for: zone) else { return nil }
        while true {
            let before = record[Self.sequenceWord].load(ordering: .acquiring)
            if before & 1 == 1 { spinWhileWriting(); continue }
            let version = record[Self.versionWord].load(ordering: .relaxed)
            let asOf = record[Self.asOfWord].load(ordering: .relaxed)
            let header = Self.unpackHeader(record[Self.headerWord].load(ordering: .relaxed))
            let first = Self.inlineEntryWord(0)
            let words = (record[first].load(ordering: .relaxed), record[first + 1].load(ordering: .relaxed),
                         record[first + 2].load(ordering: .relaxed))
            atomicMemoryFence(ordering: .acquiring)
            guard record[Self.sequenceWord].load(ordering: .relaxed) == before else { continue }
            if header.count == 0 { return nil }
            return (RankedRestaurant(words: words, handoff_s: header.handoff_s), Int64(bitPattern: version), Int64(bitPattern: asOf))
        }
    }

    /// The zone's version (nil when it has never been published): a few loads, for a
    /// reader that only needs to know whether what it holds is still current.
    @inlinable
    public func version(of zone: GeohashCell) -> Int64? {
        guard let record = record(for: zone) else { return nil }
        while true {
            let before = record[Self.sequenceWord].load(ordering: .acquiring)
            if before & 1 == 1 { spinWhileWriting(); continue }
            let version = record[Self.versionWord].load(ordering: .relaxed)
            atomicMemoryFence(ordering: .acquiring)
            if record[Self.sequenceWord].load(ordering: .relaxed) == before { return Int64(bitPattern: version) }
        }
    }

    /// Copies the zone's ranking (its first `limit` entries) into `snapshot`, reusing its
    /// storage. False, and `snapshot` untouched, when the zone has never been published.
    @inlinable
    public func read(_ zone: GeohashCell, limit: Int = .max, into snapshot: inout ZoneSnapshot) -> Bool {
        guard let record = record(for: zone) else { return false }
        while true {
            let before = record[Self.sequenceWord].load(ordering: .acquiring)
            if before & 1 == 1 { spinWhileWriting(); continue }
            snapshot.version = Int64(bitPattern: record[Self.versionWord].load(ordering: .relaxed))
            snapshot.asOf_ms = Int64(bitPattern: record[Self.asOfWord].load(ordering: .relaxed))
            let header = Self.unpackHeader(record[Self.headerWord].load(ordering: .relaxed))
            snapshot.market = header.market
            snapshot.handoff_s = header.handoff_s
            // A torn count is caught below; clamp so it never reads outside the zone.
            let count = min(header.count, limit, maxEntriesPerZone)
            let wordCount = count * RankedRestaurant.wordCount
            // Resize first, then fill in place.
            let excess = snapshot.words.count - wordCount
            if excess > 0 {
                snapshot.words.removeLast(excess)
            } else if excess < 0 {
                snapshot.words.append(contentsOf: repeatElement(0, count: -excess))
            }
            snapshot.words.withUnsafeMutableBufferPointer { copy in
                let inline = min(wordCount, Self.inlineCount * RankedRestaurant.wordCount)
                if inline > 0 {
                    let first = record + Self.inlineEntryWord(0)
                    copy[0] = first[0].load(ordering: .relaxed)
                    copy[1] = first[1].load(ordering: .relaxed)
                    copy[2] = first[2].load(ordering: .relaxed)
                    let rest = record + Self.inlineEntryWord(1) - RankedRestaurant.wordCount
                    for word in RankedRestaurant.wordCount..<inline { copy[word] = rest[word].load(ordering: .relaxed) }
                }
                if wordCount > inline {
                    // Set once, before the zone's key was published.
                    let slot = UnsafeMutablePointer<Atomic<UInt64>>(bitPattern: UInt(record[Self.slotWord].load(ordering: .relaxed)))!
                    for word in inline..<wordCount { copy[word] = slot[word - inline].load(ordering: .relaxed) }
                }
            }
            atomicMemoryFence(ordering: .acquiring)
            if record[Self.sequenceWord].load(ordering: .relaxed) == before { return true }
        }
    }

    /// Every zone published so far, in table order (no particular order). A zone the
    /// writer adds meanwhile may or may not be listed; one listed is always readable.
    /// Scans the whole table (~32 k keys by default, well under a millisecond): for
    /// overviews such as the map, not for the per-request path.
    public func publishedZones() -> [GeohashCell] {
        var zones: [GeohashCell] = []
        zones.reserveCapacity(zonesInUseForReaders.load(ordering: .relaxed))
        for index in 0...tableMask {
            let key = records[index &* Self.recordWords + Self.keyWord].load(ordering: .acquiring)
            guard key != 0 else { continue }
            zones.append(GeohashCell(bits: key & ((1 << 60) - 1), precision: Int(key >> 60)))
        }
        return zones
    }

    /// A fresh snapshot of the zone (allocates; `read(_:limit:into:)` reuses storage).
    public func snapshot(of zone: GeohashCell, limit: Int = .max) -> ZoneSnapshot? {
        var snapshot = ZoneSnapshot()
        return read(zone, limit: limit, into: &snapshot) ? snapshot : nil
    }

    @usableFromInline
    func spinWhileWriting() {
        // The writer holds a zone for well under a microsecond; yielding keeps a
        // descheduled writer from being starved by its readers.
        sched_yield()
    }

    @inlinable
    static func key(_ zone: GeohashCell) -> UInt64 { zone.bits | UInt64(truncatingIfNeeded: zone.precision) &<< 60 }

    @inlinable
    func home(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) &>> tableShift) }

    /// The record holding `key`, or the empty record where it would go.
    @inlinable
    func probe(_ key: UInt64) -> (record: UnsafeMutablePointer<Atomic<UInt64>>, isPublished: Bool) {
        var index = home(key)
        // Wrapping arithmetic: no overflow checks on the way to the first load.
        while true {
            let record = records + index &* Self.recordWords
            let found = record[Self.keyWord].load(ordering: .acquiring)
            if found == key { return (record, true) }
            if found == 0 { return (record, false) }
            index = (index + 1) & tableMask
        }
    }

    /// The zone's record, once published.
    @inlinable
    func record(for zone: GeohashCell) -> UnsafeMutablePointer<Atomic<UInt64>>? {
        let (record, isPublished) = probe(Self.key(zone))
        return isPublished ? record : nil
    }

    // MARK: Writing (the single writer)

    /// The directory index of `identifier`, added on first sight; nil when the directory
    /// is full.
    public func register(_ identifier: Identifier) -> Int32? {
        if let index = identifierIndices.number(of: identifier) { return index }
        guard identifierIndices.count < maxIdentifiers else { return nil }
        let index = identifierIndices.add(identifier)
        (identifiers + Int(index)).initialize(to: identifier)
        return index
    }

    /// Replaces the zone's ranking. The first `maxEntriesPerZone` entries are kept.
    /// False when the zone is new and the board already holds `maxZones` zones.
    /// Entries must be the model's (`isDerivable`) and share one hand-off time.
    @discardableResult
    public func publish(_ zone: GeohashCell, market: Int32, version: Int64, asOf_ms: Int64,
                        entries: UnsafeBufferPointer<RankedRestaurant>) -> Bool {
        let handoff = entries.first?.handoff_s ?? 0
        precondition((0...0xFFFF).contains(handoff) && entries.allSatisfy { $0.isDerivable && $0.handoff_s == handoff },
                     "board entries are derivable from their parts and share one hand-off of 0...65,535 s")
        let key = Self.key(zone)
        let (record, isPublished) = probe(key)
        if !isPublished {
            guard zonesInUse < maxZones else { return false }
            zonesInUse += 1
            zonesInUseForReaders.store(zonesInUse, ordering: .relaxed)
            if overflowWords > 0 {
                let slot = UnsafeMutablePointer<Atomic<UInt64>>.allocate(capacity: overflowWords)
                for word in 0..<overflowWords { (slot + word).initialize(to: Atomic(0)) }
                allocatedSlots.append(slot)
                record[Self.slotWord].store(UInt64(UInt(bitPattern: slot)), ordering: .relaxed)
            }
        }

        let sequence = record[Self.sequenceWord].load(ordering: .relaxed)
        record[Self.sequenceWord].store(sequence &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        let count = min(entries.count, maxEntriesPerZone)
        record[Self.versionWord].store(UInt64(bitPattern: version), ordering: .relaxed)
        record[Self.asOfWord].store(UInt64(bitPattern: asOf_ms), ordering: .relaxed)
        record[Self.headerWord].store(UInt64(UInt32(bitPattern: market)) << 32 | UInt64(handoff) << 16 | UInt64(count),
                                      ordering: .relaxed)
        for index in 0..<count {
            let words = index < Self.inlineCount
                ? record + Self.inlineEntryWord(index)
                : UnsafeMutablePointer<Atomic<UInt64>>(bitPattern: UInt(record[Self.slotWord].load(ordering: .relaxed)))!
                    + RankedRestaurant.wordCount * (index - Self.inlineCount)
            let entry = entries[index].words
            words[0].store(entry.0, ordering: .relaxed)
            words[1].store(entry.1, ordering: .relaxed)
            words[2].store(entry.2, ordering: .relaxed)
        }
        record[Self.sequenceWord].store(sequence &+ 2, ordering: .releasing)
        // A new zone becomes visible only now, whole.
        if !isPublished { record[Self.keyWord].store(key, ordering: .releasing) }
        return true
    }
}
