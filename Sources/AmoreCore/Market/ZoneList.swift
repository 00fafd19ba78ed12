/// A restaurant's zones, sorted and stored as LEB128-encoded gaps: zones are created
/// row by row, so neighbouring zones mostly have neighbouring indices and a zone costs
/// one byte instead of four (a restaurant delivering 6.5 km away is in ~200 zones).
struct ZoneList: Sequence {
    private var bytes: [UInt8] = []

    init() {}

    init(_ zones: [Int32]) {
        var encoded: [UInt8] = []
        encoded.reserveCapacity(zones.count + 8)
        var previous: Int64 = -1
        for zone in zones.sorted() {
            var gap = UInt64(Int64(zone) - previous)
            previous = Int64(zone)
            while gap >= 0x80 {
                encoded.append(UInt8(truncatingIfNeeded: gap) | 0x80)
                gap >>= 7
            }
            encoded.append(UInt8(gap))
        }
        // Exact capacity: lists are built once per profile change and kept.
        bytes = Array(unsafeUninitializedCapacity: encoded.count) { buffer, count in
            count = buffer.initialize(fromContentsOf: encoded)
        }
    }

    var isEmpty: Bool { bytes.isEmpty }

    struct Iterator: IteratorProtocol {
        let bytes: [UInt8]
        var offset = 0
        var previous: Int64 = -1

        mutating func next() -> Int32? {
            guard offset < bytes.count else { return nil }
            var gap: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let byte = bytes[offset]
                offset += 1
                gap |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { break }
                shift += 7
            }
            previous += Int64(gap)
            return Int32(previous)
        }
    }

    func makeIterator() -> Iterator { Iterator(bytes: bytes) }
}
