@testable import AmoreCore
import Testing

@Suite struct ZoneListTests {
    /// Gaps of every encoded length (1 to 5 bytes) come back sorted and whole.
    @Test func zoneListsRoundTripSortedAcrossEveryGapLength() {
        var random = SplitMix64(seed: 3)
        for _ in 0..<500 {
            var zones = Set<Int32>()
            for _ in 0..<Int(random.next() % 300) {
                let scale = [Int32(1) << 7, 1 << 14, 1 << 21, Int32.max][Int(random.next() % 4)]
                zones.insert(Int32(truncatingIfNeeded: random.next() % UInt64(scale)))
            }
            #expect(Array(ZoneList(Array(zones))) == zones.sorted())
        }
        #expect(Array(ZoneList([])).isEmpty)
        #expect(ZoneList([]).isEmpty && !ZoneList([0]).isEmpty)
        #expect(Array(ZoneList([0, Int32.max])) == [0, Int32.max])
    }
}
