/// Kafka's Java `Utils.murmur2`, written from its published algorithm, to check
/// independently that our producer partitions keys as Java clients do.
func javaMurmur2(_ data: [UInt8]) -> Int32 {
    let seed: UInt32 = 0x9747_b28c
    let m: UInt32 = 0x5bd1_e995
    let r: UInt32 = 24
    let length = data.count
    var h = seed ^ UInt32(truncatingIfNeeded: length)
    let blocks = length / 4
    for i in 0..<blocks {
        let base = i * 4
        var k = UInt32(data[base]) | UInt32(data[base + 1]) << 8 | UInt32(data[base + 2]) << 16 | UInt32(data[base + 3]) << 24
        k = k &* m
        k ^= k >> r
        k = k &* m
        h = h &* m
        h ^= k
    }
    let tail = blocks * 4
    switch length % 4 {
    case 3:
        h ^= UInt32(data[tail + 2]) << 16
        fallthrough
    case 2:
        h ^= UInt32(data[tail + 1]) << 8
        fallthrough
    case 1:
        h ^= UInt32(data[tail])
        h = h &* m
    default:
        break
    }
    h ^= h >> 13
    h = h &* m
    h ^= h >> 15
    return Int32(bitPattern: h)
}

/// The partition Java's default partitioner picks for a non-null key.
func javaPartition(key: [UInt8], partitions: Int32) -> Int32 {
    (javaMurmur2(key) & 0x7fff_ffff) % partitions
}
