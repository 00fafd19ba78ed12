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
        for byte in bytes where !Self.isIdentifierByte(byte) { return nil }
        withUnsafeMutableBytes(of: &words) { storage in
            storage.copyMemory(from: bytes)
        }
    }

    /// nil unless `text` is a valid identifier (string literals use the trapping literal init).
    public init?(validating text: String) {
        var text = text
        guard let value = text.withUTF8({ Identifier(bytes: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = value
    }

    /// A-Z a-z 0-9 . _ : - as a 128-bit set (one shift and mask per byte).
    @inlinable
    static func isIdentifierByte(_ byte: UInt8) -> Bool {
        let low: UInt64 = 0x07FF_6000_0000_0000   // '-' '.' '0'...'9' ':'
        let high: UInt64 = 0x07FF_FFFE_87FF_FFFE  // 'A'...'Z' '_' 'a'...'z'
        return byte < 64 ? (low >> byte) & 1 == 1 : byte < 128 && (high >> (byte - 64)) & 1 == 1
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
