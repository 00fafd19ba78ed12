import AmoreCore
import Foundation
import Synchronization
import Testing

@Suite struct RankingBoardTests {
    static func entry(_ restaurant: Int32, delivery_s: Int32) -> RankedRestaurant {
        // Parts chosen so that delivery = max(queue + prep, arrival) + 120 + travel holds.
        let travel = delivery_s - 120 - 600
        return RankedRestaurant(restaurant: restaurant, deliveryETA_s: delivery_s, queueWait_s: 100, prep_s: 500,
                                courierArrival_s: 300, handoff_s: 120, travel_s: travel, carryOutReady_s: 600,
                                styles: [.neapolitan, .vegan], confidence: .low, reason: .prepTimeFromProfile)
    }

    @Test func publishedRankingsReadBackWholeAndTruncatedToCapacity() throws {
        let board = RankingBoard(maxEntriesPerZone: 3, maxZones: 4)
        let zone = GeohashCell("9v6kpd")!
        #expect(board.best(in: zone) == nil)
        #expect(board.snapshot(of: zone) == nil)

        let market = try #require(board.register("austin"))
        let restaurants = try ["r-1", "r-2", "r-3", "r-4"].map { try #require(board.register(Identifier(validating: $0)!)) }
        #expect(board.register("r-2") == restaurants[1])  // registered once
        let entries = restaurants.enumerated().map { Self.entry($0.element, delivery_s: 1_000 + 10 * Int32($0.offset)) }
        entries.withUnsafeBufferPointer { #expect(board.publish(zone, market: market, version: 7, asOf_ms: 123, entries: $0)) }

        let snapshot = try #require(board.snapshot(of: zone))
        #expect(snapshot.version == 7 && snapshot.asOf_ms == 123)
        #expect(board.identifier(at: snapshot.market) == "austin")
        #expect(Array(snapshot.entries) == Array(entries.prefix(3)))
        #expect(snapshot.entries.map { board.identifier(at: $0.restaurant).description } == ["r-1", "r-2", "r-3"])
        #expect(board.snapshot(of: zone, limit: 2).map { Array($0.entries) } == Array(entries.prefix(2)))
        let best = try #require(board.best(in: zone))
        #expect(best.entry == entries[0] && best.version == 7 && best.asOf_ms == 123)

        // An empty ranking is a ranking: read, with no best entry.
        [RankedRestaurant]().withUnsafeBufferPointer { _ = board.publish(zone, market: market, version: 8, asOf_ms: 124, entries: $0) }
        #expect(board.snapshot(of: zone).map { Array($0.entries) } == [])
        #expect(board.snapshot(of: zone)?.version == 8)
        #expect(board.best(in: zone) == nil)
    }

    @Test func aFullBoardRefusesNewZonesAndKeepsTheOthers() {
        let board = RankingBoard(maxEntriesPerZone: 2, maxZones: 2)
        let zones = ["9v6kpd", "9v6kpe", "9v6kpf"].map { GeohashCell($0)! }
        let entries = [Self.entry(0, delivery_s: 900)]
        let accepted = zones.map { zone in
            entries.withUnsafeBufferPointer { board.publish(zone, market: 0, version: 1, asOf_ms: 1, entries: $0) }
        }
        #expect(accepted == [true, true, false])
        #expect(board.zoneCount == 2)
        #expect(board.snapshot(of: zones[1]).map { Array($0.entries) } == entries)
        #expect(board.snapshot(of: zones[2]) == nil)
    }

    /// Readers hammer one zone while a writer republishes it with a pattern that a torn
    /// read would break: every entry of version v has delivery v + its position.
    @Test func readersNeverSeeATornRanking() {
        let board = RankingBoard(maxEntriesPerZone: 20, maxZones: 1)
        let zone = GeohashCell("9v6kpd")!
        let writes = 200_000
        let race = RaceRecord()
        let writer = TestThread {
            var entries: [RankedRestaurant] = []
            for version in 1...writes {
                entries.removeAll(keepingCapacity: true)
                for position in 0..<(1 + version % 20) {
                    entries.append(Self.entry(Int32(position), delivery_s: Int32(version + position + 720)))
                }
                entries.withUnsafeBufferPointer {
                    _ = board.publish(zone, market: 0, version: Int64(version), asOf_ms: Int64(version) * 1_000, entries: $0)
                }
            }
            race.finished.store(true, ordering: .releasing)
        }
        let readers = (0..<2).map { _ in
            TestThread {
                var snapshot = ZoneSnapshot()
                var lastVersion: Int64 = 0
                var count = 0
                while !race.finished.load(ordering: .acquiring) || count == 0 {
                    guard board.read(zone, into: &snapshot) else { continue }
                    count += 1
                    let v = snapshot.version
                    let whole = snapshot.entries.count == 1 + Int(v % 20) && snapshot.asOf_ms == v * 1_000
                        && snapshot.entries.enumerated().allSatisfy { $0.element.deliveryETA_s == Int32(v) + Int32($0.offset) + 720 }
                    if !whole || v < lastVersion { race.report(["torn or older: version \(v) after \(lastVersion)"]) }
                    lastVersion = v
                    if let best = board.best(in: zone), best.entry.deliveryETA_s != Int32(best.version) + 720 {
                        race.report(["torn best entry at version \(best.version)"])
                    }
                }
                race.observed.add(count, ordering: .relaxed)
            }
        }
        writer.join()
        readers.forEach { $0.join() }
        #expect(race.problems.isEmpty, "\(race.problems.prefix(10))")
        #expect(race.observed.load(ordering: .relaxed) > 0)
    }

    @Test func publishedZonesListsEveryZoneOnceWithItsPrecision() throws {
        let board = RankingBoard(maxEntriesPerZone: 2, maxZones: 8)
        #expect(board.publishedZones().isEmpty)
        // Precisions 1, 6 and 12 (the key packs the precision above 60 bits of geohash).
        let zones = ["9", "9v6kpd", "9v6kpe", "zzzzzzzzzzzz", "000000000000"].map { GeohashCell($0)! }
        let entries = [Self.entry(0, delivery_s: 900)]
        for zone in zones + zones {  // republishing adds nothing
            entries.withUnsafeBufferPointer { _ = board.publish(zone, market: 0, version: 1, asOf_ms: 1, entries: $0) }
        }
        let listed = board.publishedZones()
        #expect(listed.count == zones.count)
        #expect(Set(listed.map(\.description)) == Set(zones.map(\.description)))
        #expect(zones.allSatisfy { board.version(of: $0) == 1 })
        #expect(board.version(of: GeohashCell("9v6kpf")!) == nil)
    }

    /// A reader listing zones while the writer adds them sees only whole zones: each one
    /// listed reads back, and a zone once listed is listed again.
    @Test func zonesListedWhileTheWriterAddsThemAreAlwaysReadable() {
        let board = RankingBoard(maxEntriesPerZone: 12, maxZones: 4_096)
        let total = 4_000
        let race = RaceRecord()
        let writer = TestThread {
            for index in 0..<total {
                let zone = GeohashCell(bits: UInt64(index) &* 2_654_435_761, precision: 7)
                let entries = (0..<(1 + index % 12)).map { Self.entry(Int32($0), delivery_s: 1_000 + Int32($0)) }
                entries.withUnsafeBufferPointer {
                    _ = board.publish(zone, market: 0, version: Int64(index + 1), asOf_ms: Int64(index), entries: $0)
                }
            }
            race.finished.store(true, ordering: .releasing)
        }
        let reader = TestThread {
            var seen = Set<GeohashCell>()
            var snapshot = ZoneSnapshot()
            var lists = 0
            while !race.finished.load(ordering: .acquiring) || lists == 0 {
                let listed = board.publishedZones()
                lists += 1
                let now = Set(listed)
                if now.count != listed.count { race.report(["a zone listed twice"]) }
                if !seen.isSubset(of: now) { race.report(["a zone listed before is missing"]) }
                for zone in listed where !board.read(zone, into: &snapshot) || snapshot.entries.isEmpty {
                    race.report(["listed zone \(zone) does not read back whole"])
                }
                seen = now
            }
            race.observed.add(lists, ordering: .relaxed)
        }
        writer.join()
        reader.join()
        #expect(race.problems.isEmpty, "\(race.problems.prefix(10))")
        #expect(board.publishedZones().count == total)
        #expect(race.observed.load(ordering: .relaxed) > 0)
    }
}

/// What reader threads found, shared with the test.
final class RaceRecord: Sendable {
    let finished = Atomic<Bool>(false)
    /// Reads (or changes) the readers observed.
    let observed = Atomic<Int>(0)
    private let found = Mutex<[String]>([])

    func report(_ problems: [String]) {
        guard !problems.isEmpty else { return }
        found.withLock { $0 += problems }
    }

    var problems: [String] { found.withLock { $0 } }
}

/// A thread the test can wait for.
final class TestThread: Sendable {
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () -> Void) {
        let done = self.done
        Thread {
            body()
            done.signal()
        }.start()
    }

    func join() { done.wait() }
}
