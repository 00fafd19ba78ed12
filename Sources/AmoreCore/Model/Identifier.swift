/// An external identifier (restaurant, courier, market, order, event id) held inline:
/// up to 64 bytes of `[A-Za-z0-9._:-]`, no allocation, compared and hashed by value.
public struct Identifier: Hashable, Sendable, CustomStringConvertible, Comparable {
    public static let maxLength = 64

    // 64 bytes as 8 words keeps the struct trivially copyable and fast to compare.
    @usableFromInline var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    public let count: UInt8

    /// nil unless `bytes` is 1...64 characters of the identifier alphabet.
    @inlinable
    public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= 1, bytes.count <= Self.maxLength else { return nil }
        words = (0, 0, 0, 0, 0, 0, 0, 0)
        count = UInt8(bytes.count)
        // Eight bytes at a time: load a word, check every byte is in the alphabet, store.
        let valid = withUnsafeMutableBytes(of: &words) { storage -> Bool in
            var offset = 0
            while offset < bytes.count {
                let remaining = bytes.count - offset
                var word: UInt64 = 0
                if remaining >= 8 {
                    word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                } else {
                    for index in 0..<remaining { word |= UInt64(bytes[offset + index]) << (8 * UInt64(index)) }
                }
                // Bytes past the end are zero and count as valid.
                let padding: UInt64 = remaining >= 8 ? 0 : ~0 << (8 * UInt64(remaining)) & Self.highBits
                guard Self.alphabetBytes(word) | padding == Self.highBits else { return false }
                storage.storeBytes(of: word, toByteOffset: offset, as: UInt64.self)
                offset += 8
            }
            return true
        }
        if !valid { return nil }
    }

    /// nil unless `text` is a valid identifier (string literals use the trapping literal init).
    /// An empty stand-in for a field not decoded yet; never a valid identifier.
    static let placeholder = Identifier()

    private init() {
        words = (0, 0, 0, 0, 0, 0, 0, 0)
        count = 0
    }

    public init?(validating text: String) {
        var text = text
        guard let value = text.withUTF8({ Identifier(bytes: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = value
    }

    @usableFromInline static var highBits: UInt64 { 0x8080_8080_8080_8080 }

    /// For each byte of `word`, its high bit set iff the byte is in the alphabet
    /// (SWAR range checks; exact because ASCII bytes plus the offsets never carry).
    @inlinable @inline(__always)
    static func alphabetBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let ascii = word & (ones &* 0x7F)
        func within(_ low: UInt64, _ high: UInt64) -> UInt64 {
            let atLeastLow = ascii &+ ones &* (0x80 - low)
            let aboveHigh = ascii &+ ones &* (0x7F - high)
            return atLeastLow & ~aboveHigh
        }
        let inAlphabet = within(0x2D, 0x2E) | within(0x30, 0x3A) | within(0x41, 0x5A) | within(0x5F, 0x5F) | within(0x61, 0x7A)
        return inAlphabet & ~word & highBits  // and not a byte ≥ 0x80
    }


    /// The identifier's bytes, valid inside `body`.
    @inlinable
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: words) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<Int(count)])) }
    }

    public var description: String { withBytes { String(decoding: $0, as: UTF8.self) } }

    public static func == (lhs: Identifier, rhs: Identifier) -> Bool {
        lhs.count == rhs.count
            && lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1 && lhs.words.2 == rhs.words.2 && lhs.words.3 == rhs.words.3
            && lhs.words.4 == rhs.words.4 && lhs.words.5 == rhs.words.5 && lhs.words.6 == rhs.words.6 && lhs.words.7 == rhs.words.7
    }

    public func hash(into hasher: inout Hasher) {
        // Only the used words: unused ones are zero and would only cost time.
        withUnsafeBytes(of: words) { hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: $0[0..<((Int(count) + 7) & ~7)])) }
        hasher.combine(count)
    }

    public static func < (lhs: Identifier, rhs: Identifier) -> Bool {
        lhs.withBytes { l in rhs.withBytes { r in l.lexicographicallyPrecedes(r) } }
    }
}

extension Identifier: ExpressibleByStringLiteral {
    /// For tests and fixed values; traps on an invalid literal.
    public init(stringLiteral value: String) {
        guard let identifier = Identifier(validating: value) else { preconditionFailure("invalid identifier literal '\(value)'") }
        self = identifier
    }
}
