import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A zone's ranking as a reader saw it: one consistent version, never half-written.
public struct ZoneSnapshot: Sendable, Equatable {
    /// Strictly increasing per zone; 0 before the first publication.
    public var version: Int64 = 0
    /// The event time the ranking reflects.
    public var asOf_ms: Int64 = 0
    /// Directory index of the zone's market (`RankingBoard.identifier(at:)`).
    public var market: Int32 = 0
    /// Fastest first; at most the `limit` asked for.
    public var entries: [RankedRestaurant] = []

    public init() {}
}

/// The read side of the zone rankings: one writer publishes, any number of threads read,
/// with no lock and no reference counting on the read path, and the writer never waits.
///
/// Why sequence-locked slots (measured in `Benchmarks/RankingReads`): each zone owns a
/// fixed slot of plain words that the writer overwrites in place, bracketed by a sequence
/// number (odd while writing). A reader loads the sequence, copies the words it wants,
/// and keeps the copy only if the sequence is even and unchanged. A read is a few plain
/// loads on x86 (acquire and relaxed atomics compile to `mov`), touches no shared
/// counter, and replaced rankings need no reclamation: nothing is ever freed while
/// the board lives. Epoch-based reclamation of immutable snapshots would make every read
/// announce its epoch with a store and a full fence (~20 ns here) and the writer
/// allocate per publication; an `AtomicReference` load costs ~55 ns under contention.
/// The price: a zone lists at most `maxEntriesPerZone` restaurants, and a reader that
/// races a write retries (the writer holds a slot for well under a microsecond).
///
/// Every word is an atomic (relaxed where the sequence orders it), so the races the
/// protocol tolerates are not data races, and ThreadSanitizer checks the rest.
public final class RankingBoard: @unchecked Sendable {
    public let maxEntriesPerZone: Int
    public let maxZones: Int
    public let maxIdentifiers: Int

    // Slot words: sequence, version, as-of, market, count, then the entries.
    @usableFromInline static var headerWords: Int { 5 }
    @usableFromInline let slotWords: Int

    // Zones: open addressing, keys published with release after their slot address.
    @usableFromInline let tableMask: Int
    @usableFromInline let tableShift: UInt64
    @usableFromInline let zoneKeys: UnsafeMutablePointer<Atomic<UInt64>>
    @usableFromInline let zoneSlots: UnsafeMutablePointer<Atomic<UInt>>

    // Restaurant and market ids the slots refer to; each written once, before any slot
    // that names it is published (the slot's release store orders it for readers).
    private let identifiers: UnsafeMutablePointer<Identifier>

    // Writer only.
    private var identifierIndices: [Identifier: Int32] = [:]
    private var allocatedSlots: [UnsafeMutablePointer<Atomic<UInt64>>] = []

    public init(maxEntriesPerZone: Int = 50, maxZones: Int = 1 << 16, maxIdentifiers: Int = 1 << 16) {
        precondition(maxEntriesPerZone > 0 && maxZones > 0 && maxIdentifiers > 0)
        self.maxEntriesPerZone = maxEntriesPerZone
        self.maxZones = maxZones
        self.maxIdentifiers = maxIdentifiers
        slotWords = Self.headerWords + RankedRestaurant.wordCount * maxEntriesPerZone
        // At most half full, so probes stay short.
        var tableSize = 2
        var bits: UInt64 = 1
        while tableSize < 2 * maxZones { tableSize <<= 1; bits += 1 }
        tableMask = tableSize - 1
        tableShift = 64 - bits
        zoneKeys = .allocate(capacity: tableSize)
        zoneSlots = .allocate(capacity: tableSize)
        for index in 0..<tableSize {
            (zoneKeys + index).initialize(to: Atomic(0))
            (zoneSlots + index).initialize(to: Atomic(0))
        }
        identifiers = .allocate(capacity: maxIdentifiers)
    }

    deinit {
        zoneKeys.deinitialize(count: tableMask + 1).deallocate()
        zoneSlots.deinitialize(count: tableMask + 1).deallocate()
        identifiers.deinitialize(count: identifierIndices.count).deallocate()
        for slot in allocatedSlots { slot.deinitialize(count: slotWords).deallocate() }
    }

    public var zoneCount: Int { allocatedSlots.count }

    // MARK: Reading (any thread)

    /// The id behind a `RankedRestaurant.restaurant` or `ZoneSnapshot.market` index read
    /// from this board.
    public func identifier(at index: Int32) -> Identifier { identifiers[Int(index)] }

    /// The zone's fastest restaurant, with the version and as-of time it belongs to;
    /// nil when the zone has no ranking or an empty one.
    @inlinable
    public func best(in zone: GeohashCell) -> (entry: RankedRestaurant, version: Int64, asOf_ms: Int64)? {
        guard let slot = slot(for: zone) else { return nil }
        while true {
            let before = slot[0].load(ordering: .acquiring)
            if before & 1 == 1 { spinWhileWriting(); continue }
            let version = slot[1].load(ordering: .relaxed)
            let asOf = slot[2].load(ordering: .relaxed)
            let count = slot[4].load(ordering: .relaxed)
            let first = Self.headerWords
            let words = (slot[first].load(ordering: .relaxed), slot[first + 1].load(ordering: .relaxed),
                         slot[first + 2].load(ordering: .relaxed), slot[first + 3].load(ordering: .relaxed),
                         slot[first + 4].load(ordering: .relaxed))
            atomicMemoryFence(ordering: .acquiring)
            guard slot[0].load(ordering: .relaxed) == before else { continue }
            if count == 0 { return nil }
            return (RankedRestaurant(words: words), Int64(bitPattern: version), Int64(bitPattern: asOf))
        }
    }

    /// Copies the zone's ranking (its first `limit` entries) into `snapshot`, reusing its
    /// storage. False, and `snapshot` untouched, when the zone has never been published.
    @inlinable
    public func read(_ zone: GeohashCell, limit: Int = .max, into snapshot: inout ZoneSnapshot) -> Bool {
        guard let slot = slot(for: zone) else { return false }
        while true {
            let before = slot[0].load(ordering: .acquiring)
            if before & 1 == 1 { spinWhileWriting(); continue }
            snapshot.version = Int64(bitPattern: slot[1].load(ordering: .relaxed))
            snapshot.asOf_ms = Int64(bitPattern: slot[2].load(ordering: .relaxed))
            snapshot.market = Int32(truncatingIfNeeded: slot[3].load(ordering: .relaxed))
            // A torn count is caught below; clamp so it never reads outside the slot.
            let count = min(Int(truncatingIfNeeded: slot[4].load(ordering: .relaxed)), limit, maxEntriesPerZone)
            snapshot.entries.removeAll(keepingCapacity: true)
            var word = Self.headerWords
            for _ in 0..<max(0, count) {
                snapshot.entries.append(RankedRestaurant(words: (
                    slot[word].load(ordering: .relaxed), slot[word + 1].load(ordering: .relaxed),
                    slot[word + 2].load(ordering: .relaxed), slot[word + 3].load(ordering: .relaxed),
                    slot[word + 4].load(ordering: .relaxed))))
                word += RankedRestaurant.wordCount
            }
            atomicMemoryFence(ordering: .acquiring)
            if slot[0].load(ordering: .relaxed) == before { return true }
        }
    }

    /// A fresh snapshot of the zone (allocates; `read(_:limit:into:)` reuses storage).
    public func snapshot(of zone: GeohashCell, limit: Int = .max) -> ZoneSnapshot? {
        var snapshot = ZoneSnapshot()
        return read(zone, limit: limit, into: &snapshot) ? snapshot : nil
    }

    @usableFromInline
    func spinWhileWriting() {
        // The writer holds a slot for well under a microsecond; a pause would be enough,
        // and a yield keeps a descheduled writer from being starved by its readers.
        sched_yield()
    }

    @inlinable
    static func key(_ zone: GeohashCell) -> UInt64 { zone.bits | UInt64(zone.precision) << 60 }

    @inlinable
    func slot(for zone: GeohashCell) -> UnsafeMutablePointer<Atomic<UInt64>>? {
        let key = Self.key(zone)
        var index = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> tableShift)
        while true {
            let found = zoneKeys[index].load(ordering: .acquiring)
            if found == key {
                return UnsafeMutablePointer(bitPattern: zoneSlots[index].load(ordering: .relaxed))
            }
            if found == 0 { return nil }
            index = (index + 1) & tableMask
        }
    }

    // MARK: Writing (the single writer)

    /// The directory index of `identifier`, added on first sight; nil when the directory
    /// is full.
    public func register(_ identifier: Identifier) -> Int32? {
        if let index = identifierIndices[identifier] { return index }
        guard identifierIndices.count < maxIdentifiers else { return nil }
        let index = Int32(identifierIndices.count)
        (identifiers + Int(index)).initialize(to: identifier)
        identifierIndices[identifier] = index
        return index
    }

    /// Replaces the zone's ranking. The first `maxEntriesPerZone` entries are kept.
    /// False when the zone is new and the board already holds `maxZones` zones.
    @discardableResult
    public func publish(_ zone: GeohashCell, market: Int32, version: Int64, asOf_ms: Int64,
                        entries: UnsafeBufferPointer<RankedRestaurant>) -> Bool {
        guard let slot = slot(for: zone) ?? addSlot(for: zone) else { return false }
        let sequence = slot[0].load(ordering: .relaxed)
        slot[0].store(sequence &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        slot[1].store(UInt64(bitPattern: version), ordering: .relaxed)
        slot[2].store(UInt64(bitPattern: asOf_ms), ordering: .relaxed)
        slot[3].store(UInt64(UInt32(bitPattern: market)), ordering: .relaxed)
        let count = min(entries.count, maxEntriesPerZone)
        slot[4].store(UInt64(count), ordering: .relaxed)
        var word = Self.headerWords
        for index in 0..<count {
            let words = entries[index].words
            slot[word].store(words.0, ordering: .relaxed)
            slot[word + 1].store(words.1, ordering: .relaxed)
            slot[word + 2].store(words.2, ordering: .relaxed)
            slot[word + 3].store(words.3, ordering: .relaxed)
            slot[word + 4].store(words.4, ordering: .relaxed)
            word += RankedRestaurant.wordCount
        }
        slot[0].store(sequence &+ 2, ordering: .releasing)
        return true
    }

    private func addSlot(for zone: GeohashCell) -> UnsafeMutablePointer<Atomic<UInt64>>? {
        guard allocatedSlots.count < maxZones else { return nil }
        let slot = UnsafeMutablePointer<Atomic<UInt64>>.allocate(capacity: slotWords)
        for word in 0..<slotWords { (slot + word).initialize(to: Atomic(0)) }
        allocatedSlots.append(slot)
        let key = Self.key(zone)
        var index = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> tableShift)
        while zoneKeys[index].load(ordering: .relaxed) != 0 { index = (index + 1) & tableMask }
        zoneSlots[index].store(UInt(bitPattern: slot), ordering: .relaxed)
        zoneKeys[index].store(key, ordering: .releasing)
        return slot
    }
}
