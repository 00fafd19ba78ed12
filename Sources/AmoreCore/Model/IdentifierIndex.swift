/// Identifiers numbered 0, 1, 2, ... in order of first sight (couriers, restaurants), found
/// by an open-addressed table instead of `Dictionary`.
///
/// Why not `Dictionary<Identifier, Int32>`: a courier ping looks its courier up once, and
/// SipHash over the identifier's words plus the standard table's generic probing was
/// ~10 % of the engine's time per ping (measured). Here the hash is a multiply-xor over
/// the words in use, seeded per table at random so that crafted ids cannot be made to
/// collide; each slot keeps 32 bits of the hash, so a probe compares whole identifiers
/// only when those match. Nothing is ever removed (numbers index dense arrays).
struct IdentifierIndex {
    /// 0: empty; else hash tag (high 32 bits) | number + 1 (low 32).
    private var slots = [UInt64](repeating: 0, count: 64)
    private var identifiers: [Identifier] = []
    private let seed = UInt64.random(in: .min ... .max) | 1

    var count: Int { identifiers.count }

    /// The number of `identifier`, or nil if it has not been added.
    @inline(__always)
    func number(of identifier: Identifier) -> Int32? {
        let hash = hash(identifier)
        let tag = hash >> 32
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        return slots.withUnsafeBufferPointer { slots in
            identifiers.withUnsafeBufferPointer { identifiers in
                while true {
                    let entry = slots[slot]
                    if entry == 0 { return nil }
                    if entry >> 32 == tag {
                        let number = Int32(truncatingIfNeeded: entry) - 1
                        if identifiers[Int(number)] == identifier { return number }
                    }
                    slot = (slot + 1) & mask
                }
            }
        }
    }

    /// Adds an identifier not added before; its number is the previous `count`.
    mutating func add(_ identifier: Identifier) -> Int32 {
        let number = Int32(identifiers.count)
        identifiers.append(identifier)
        if 2 * identifiers.count > slots.count {
            slots = [UInt64](repeating: 0, count: 2 * slots.count)
            for (number, identifier) in identifiers.enumerated() { place(identifier, number: Int32(number)) }
        } else {
            place(identifier, number: number)
        }
        return number
    }

    subscript(number: Int32) -> Identifier { identifiers[Int(number)] }

    private mutating func place(_ identifier: Identifier, number: Int32) {
        let hash = hash(identifier)
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = hash & 0xFFFF_FFFF_0000_0000 | UInt64(number + 1)
    }

    @inline(__always)
    private func hash(_ identifier: Identifier) -> UInt64 {
        let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15
        var hash = seed ^ UInt64(identifier.count)
        let words = (Int(identifier.count) + 7) / 8
        withUnsafeBytes(of: identifier.words) { bytes in
            for word in 0..<words {
                hash = (hash ^ bytes.load(fromByteOffset: 8 * word, as: UInt64.self)) &* multiplier
                hash ^= hash >> 29
            }
        }
        hash = (hash ^ (hash >> 32)) &* multiplier
        return hash ^ (hash >> 29)
    }
}
