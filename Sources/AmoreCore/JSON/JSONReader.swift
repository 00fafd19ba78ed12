#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A strict, allocation-free JSON reader over bytes (RFC 8259 grammar: escapes,
/// exponents, whitespace), for decoders that know their fields. It validates UTF-8 in
/// strings, limits nesting, and reports errors with a reason and the byte offset.
struct JSONReader {
    static let maxDepth = 32

    struct Failure: Error {
        let reason: EventRejection.Reason
        let message: String
    }

    enum Number {
        case integer(Int64)
        case double(Double)

        /// The value as an integer when it is one (1000, 1e3 and 1000.0 alike).
        var exactInteger: Int64? {
            switch self {
            case .integer(let value): return value
            case .double(let value):
                guard value.rounded(.towardZero) == value, value >= -9.2e18, value <= 9.2e18 else { return nil }
                return Int64(value)
            }
        }

        var double: Double {
            switch self {
            case .integer(let value): Double(value)
            case .double(let value): value
            }
        }
    }

    let bytes: UnsafeRawBufferPointer
    var index = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    @inline(__always) var atEnd: Bool { index >= bytes.count }

    @inline(__always) mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// The next non-whitespace byte, not consumed.
    @inline(__always) mutating func peek() throws -> UInt8 {
        skipWhitespace()
        guard index < bytes.count else { throw truncated() }
        return bytes[index]
    }

    @inline(__always) mutating func expect(_ byte: UInt8) throws {
        guard try peek() == byte else { throw unexpected("'\(Character(Unicode.Scalar(byte)))'") }
        index += 1
    }

    func truncated() -> Failure { Failure(reason: .malformedJSON, message: "unexpected end of document at byte \(index)") }

    func unexpected(_ wanted: String) -> Failure {
        guard index < bytes.count else { return truncated() }
        return Failure(reason: .malformedJSON, message: "expected \(wanted) at byte \(index), found 0x\(String(bytes[index], radix: 16))")
    }

    // MARK: objects

    /// Reads `{ "key": value, ... }`, calling `member` with each key's index in `fields`
    /// (nil for a key not among them); `member` must consume the value.
    ///
    /// Producers write a contract's fields in one order, so the field after the last one
    /// matched is tried first, straight from the document; any other spelling of a name
    /// (escapes, another order) takes the general path and means the same.
    @inline(__always)
    mutating func readObject(depth: Int, fields: [StaticString], _ member: (Int?, inout JSONReader) throws -> Void) throws {
        guard depth <= Self.maxDepth else { throw Failure(reason: .tooDeep, message: "nesting deeper than \(Self.maxDepth) levels") }
        try expect(UInt8(ascii: "{"))
        if try peek() == UInt8(ascii: "}") { index += 1; return }
        var predicted = 0
        try withUnsafeTemporaryAllocation(byteCount: 128, alignment: 1) { scratch in
            while true {
                guard try peek() == UInt8(ascii: "\"") else { throw unexpected("a member name") }
                let field: Int?
                if predicted < fields.count, skipName(fields[predicted]) {
                    field = predicted
                } else {
                    field = Self.index(of: try readString(scratch: scratch, overflow: .empty), in: fields)
                }
                if let field { predicted = field + 1 }
                try expect(UInt8(ascii: ":"))
                try member(field, &self)
                switch try peek() {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"): index += 1; return
                default: throw unexpected("',' or '}'")
                }
            }
        }
    }

    /// Consumes `"name"` (the opening quote at `index`) if that is exactly what is there.
    @inline(__always)
    private mutating func skipName(_ name: StaticString) -> Bool {
        let length = name.utf8CodeUnitCount
        let end = index + 1 + length
        guard end < bytes.count, bytes[end] == UInt8(ascii: "\""),
              Self.equalBytes(UnsafeRawPointer(name.utf8Start), bytes.baseAddress! + index + 1, count: length) else { return false }
        index = end + 1
        return true
    }

    /// The index of `text` in `names`, nil if it is not there.
    @inline(__always)
    static func index(of text: UnsafeRawBufferPointer, in names: [StaticString]) -> Int? {
        guard let first = text.first else { return nil }
        for position in names.indices {
            let name = names[position]
            // Length and first byte rule out nearly every other name before comparing.
            if name.utf8CodeUnitCount == text.count, name.utf8Start.pointee == first,
               equalBytes(UnsafeRawPointer(name.utf8Start), text.baseAddress!, count: text.count) {
                return position
            }
        }
        return nil
    }

    /// Whether `count` bytes at `a` and at `b` are equal: a word at a time (names and
    /// keys are short; a `memcmp` call costs more than the comparison).
    @inline(__always)
    static func equalBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int) -> Bool {
        var offset = 0
        while offset + 8 <= count {
            if a.loadUnaligned(fromByteOffset: offset, as: UInt64.self) != b.loadUnaligned(fromByteOffset: offset, as: UInt64.self) {
                return false
            }
            offset += 8
        }
        while offset < count {
            if a.load(fromByteOffset: offset, as: UInt8.self) != b.load(fromByteOffset: offset, as: UInt8.self) { return false }
            offset += 1
        }
        return true
    }

    /// Reads `[ value, ... ]`, calling `element` for each; it must consume the value.
    mutating func readArray(depth: Int, _ element: (Int, inout JSONReader) throws -> Void) throws {
        guard depth <= Self.maxDepth else { throw Failure(reason: .tooDeep, message: "nesting deeper than \(Self.maxDepth) levels") }
        try expect(UInt8(ascii: "["))
        if try peek() == UInt8(ascii: "]") { index += 1; return }
        var position = 0
        while true {
            try element(position, &self)
            position += 1
            switch try peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return
            default: throw unexpected("',' or ']'")
            }
        }
    }

    /// Skips any value, validating it.
    mutating func skipValue(depth: Int) throws {
        switch try peek() {
        case UInt8(ascii: "{"): try readObject(depth: depth, fields: []) { _, reader in try reader.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["): try readArray(depth: depth) { _, reader in try reader.skipValue(depth: depth + 1) }
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try readLiteral("true")
        case UInt8(ascii: "f"): try readLiteral("false")
        case UInt8(ascii: "n"): try readLiteral("null")
        default: _ = try readNumber()
        }
    }

    mutating func readLiteral(_ literal: StaticString) throws {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw truncated() }
        guard memcmp(bytes.baseAddress! + index, literal.utf8Start, count) == 0 else { throw unexpected("a value") }
        index += count
    }

    /// `true` or `false`; nil (nothing consumed) if the value is something else.
    mutating func readBool() throws -> Bool? {
        switch try peek() {
        case UInt8(ascii: "t"): try readLiteral("true"); return true
        case UInt8(ascii: "f"): try readLiteral("false"); return false
        default: return nil
        }
    }

    // MARK: strings

    enum Overflow { case empty, fail }

    /// Reads a string. Without escapes the result points into the document; with them it
    /// is decoded into `scratch`. A decoded string longer than `scratch` gives an empty
    /// result (`.empty`: still validated) or a `string_too_long` failure (`.fail`).
    /// Callers `peek()` first (every caller does, to choose what to read), so the opening
    /// quote is at `index` with no whitespace to skip.
    mutating func readString(scratch: UnsafeMutableRawBufferPointer, overflow: Overflow) throws -> UnsafeRawBufferPointer {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw unexpected("a string") }
        index += 1
        let start = index
        // Fast path, 8 bytes at a time: find the first quote, backslash, control or
        // non-ASCII byte (SWAR; only the lowest flagged byte is exact, which is the one used).
        while index + 8 <= bytes.count {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            let quotes = word ^ (ones &* 0x22)
            let backslashes = word ^ (ones &* 0x5C)
            let special = ((quotes &- ones) & ~quotes) | ((backslashes &- ones) & ~backslashes)
                | ((word &- ones &* 0x20) & ~word) | word
            let flagged = special & highs
            if flagged != 0 {
                index += flagged.trailingZeroBitCount / 8
                break
            }
            index += 8
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return UnsafeRawBufferPointer(rebasing: bytes[start..<(index - 1)])
            }
            if byte == UInt8(ascii: "\\") || byte >= 0x80 || byte < 0x20 { break }
            index += 1
        }
        // Slow path: copy what we have, then decode escapes and validate UTF-8.
        var length = index - start
        var fits = length <= scratch.count
        if fits { scratch.baseAddress!.copyMemory(from: bytes.baseAddress! + start, byteCount: length) }
        func append(_ byte: UInt8) {
            if fits && length < scratch.count { scratch[length] = byte } else { fits = false }
            length += 1
        }
        while true {
            guard index < bytes.count else { throw truncated() }
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                if fits { return UnsafeRawBufferPointer(rebasing: scratch[0..<length]) }
                if overflow == .fail { throw Failure(reason: .stringTooLong, message: "string longer than \(scratch.count) bytes") }
                return UnsafeRawBufferPointer(start: scratch.baseAddress, count: 0)
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw truncated() }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): append(escape)
                case UInt8(ascii: "b"): append(0x08)
                case UInt8(ascii: "f"): append(0x0C)
                case UInt8(ascii: "n"): append(0x0A)
                case UInt8(ascii: "r"): append(0x0D)
                case UInt8(ascii: "t"): append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try readHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw Failure(reason: .invalidUTF8, message: "unpaired surrogate escape at byte \(index)")
                        }
                        index += 2
                        let low = try readHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw Failure(reason: .invalidUTF8, message: "unpaired surrogate escape at byte \(index)") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw Failure(reason: .invalidUTF8, message: "unpaired surrogate escape at byte \(index)")
                    }
                    for unit in UTF8.encode(Unicode.Scalar(scalar)!)! { append(unit) }
                default:
                    throw Failure(reason: .malformedJSON, message: "invalid escape at byte \(index - 1)")
                }
            case 0..<0x20:
                throw Failure(reason: .malformedJSON, message: "control character in string at byte \(index)")
            case 0x80...:
                let sequence = try utf8SequenceLength(at: index)
                for offset in 0..<sequence { append(bytes[index + offset]) }
                index += sequence
            default:
                append(byte)
                index += 1
            }
        }
    }

    mutating func skipString() throws {
        _ = try withUnsafeTemporaryAllocation(byteCount: 0, alignment: 1) { empty in
            try readString(scratch: empty, overflow: .empty)
        }
    }

    private mutating func readHex4() throws -> UInt32 {
        guard index + 4 <= bytes.count else { throw truncated() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw Failure(reason: .malformedJSON, message: "invalid \\u escape at byte \(index)")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    /// Length of the well-formed UTF-8 sequence at `position` (RFC 3629: no overlongs,
    /// no surrogates, nothing above U+10FFFF).
    private func utf8SequenceLength(at position: Int) throws -> Int {
        let lead = bytes[position]
        let length: Int
        var lowest: UInt8 = 0x80
        var highest: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lowest = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; highest = 0x9F
        case 0xF0: length = 4; lowest = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; highest = 0x8F
        default: throw Failure(reason: .invalidUTF8, message: "invalid UTF-8 lead byte 0x\(String(lead, radix: 16)) at byte \(position)")
        }
        guard position + length <= bytes.count else { throw Failure(reason: .invalidUTF8, message: "truncated UTF-8 sequence at byte \(position)") }
        for offset in 1..<length {
            let byte = bytes[position + offset]
            let (low, high) = offset == 1 ? (lowest, highest) : (UInt8(0x80), UInt8(0xBF))
            guard byte >= low && byte <= high else {
                throw Failure(reason: .invalidUTF8, message: "invalid UTF-8 continuation at byte \(position + offset)")
            }
        }
        return length
    }

    // MARK: numbers

    /// 10^exponent for 0...22, all exact in a Double. A switch of literals compiles to a
    /// constant table: no global array (and no reference counting) on the hot path.
    @inline(__always) private static func powerOf10(_ exponent: Int) -> Double {
        switch exponent {
        case 0: 1e0
        case 1: 1e1
        case 2: 1e2
        case 3: 1e3
        case 4: 1e4
        case 5: 1e5
        case 6: 1e6
        case 7: 1e7
        case 8: 1e8
        case 9: 1e9
        case 10: 1e10
        case 11: 1e11
        case 12: 1e12
        case 13: 1e13
        case 14: 1e14
        case 15: 1e15
        case 16: 1e16
        case 17: 1e17
        case 18: 1e18
        case 19: 1e19
        case 20: 1e20
        case 21: 1e21
        case 22: 1e22
        default: .nan
        }
    }

    /// `mantissa` x 10^`exponent`, correctly rounded, when no multi-precision arithmetic is
    /// needed: one exact operation when both operands are exact doubles, else
    /// `DecimalToDouble`; nil otherwise.
    @inline(__always)
    private static func nearestDouble(mantissa: UInt64, exponent: Int) -> Double? {
        if mantissa < 1 << 53, abs(exponent) <= 22 {
            let value = Double(mantissa)
            return exponent < 0 ? value / powerOf10(-exponent) : value * powerOf10(exponent)
        }
        return DecimalToDouble.value(mantissa: mantissa, exponent: exponent)
    }

    /// Appends the decimal digits from `position` on to `mantissa` (wrapping past 19 of
    /// them: callers count the digits); the position after the last.
    @inline(__always)
    func readDigits(from position: Int, into mantissa: inout UInt64) -> Int {
        var position = position
        while position < bytes.count {
            let digit = bytes[position] &- UInt8(ascii: "0")
            if digit >= 10 { break }
            mantissa = mantissa &* 10 &+ UInt64(digit)
            position += 1
        }
        return position
    }

    /// The usual spelling of a coordinate or speed, `-?(0|[1-9][0-9]*)(.[0-9]+)?` with at
    /// most 19 significant digits, as the correctly rounded Double; nil, with nothing consumed, for
    /// any other spelling (which `readNumber` then reads, or rejects).
    @inline(__always)
    mutating func readPlainDecimal() -> Double? {
        skipWhitespace()
        var position = index
        let negative = position < bytes.count && bytes[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        // Up to 19 digits fit in the mantissa; longer ones wrap and are refused below.
        var mantissa: UInt64 = 0
        let integerStart = position
        position = readDigits(from: position, into: &mantissa)
        let integerDigits = position - integerStart
        guard integerDigits >= 1, integerDigits == 1 || bytes[integerStart] != UInt8(ascii: "0") else { return nil }
        var fractionDigits = 0
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            let fractionStart = position
            position = readDigits(from: position, into: &mantissa)
            fractionDigits = position - fractionStart
            guard fractionDigits >= 1 else { return nil }
        }
        if integerDigits + fractionDigits > 19 {
            // Zeros before the first other digit (0.000123) add nothing to the mantissa.
            var zeros = 0
            var scan = integerStart
            while scan < position, bytes[scan] == UInt8(ascii: "0") || bytes[scan] == UInt8(ascii: ".") {
                if bytes[scan] == UInt8(ascii: "0") { zeros += 1 }
                scan += 1
            }
            guard integerDigits + fractionDigits - zeros <= 19 else { return nil }
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") { return nil }
        guard let value = Self.nearestDouble(mantissa: mantissa, exponent: -fractionDigits) else { return nil }
        index = position
        return negative ? -value : value
    }

    /// Reads a number (RFC 8259 grammar). Integers without fraction or exponent that fit
    /// in Int64 stay exact; others become the correctly rounded Double: one exact
    /// operation when it suffices, else `DecimalToDouble`, else `strtod`.
    mutating func readNumber() throws -> Number {
        skipWhitespace()
        let start = index
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { negative = true; index += 1 }
        guard index < bytes.count else { throw truncated() }
        guard isDigit(bytes[index]) else { throw unexpected("a value") }
        var mantissa: UInt64 = 0
        var significantDigits = 0  // digits kept in mantissa, from the first non-zero one
        var exact = true
        var droppedIntegerDigits = 0
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count {
                let digit = bytes[index] &- UInt8(ascii: "0")
                if digit >= 10 { break }
                if significantDigits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(digit)
                    significantDigits += 1
                } else {
                    exact = false
                    droppedIntegerDigits += 1
                }
                index += 1
            }
        }
        var isInteger = true
        var fractionDigits = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw unexpected("a digit") }
            while index < bytes.count {
                let digit = bytes[index] &- UInt8(ascii: "0")
                if digit >= 10 { break }
                if significantDigits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(digit)
                    if mantissa != 0 { significantDigits += 1 }
                    fractionDigits += 1
                } else {
                    exact = false
                }
                index += 1
            }
        }
        var exponent = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            var exponentNegative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            guard index < bytes.count, isDigit(bytes[index]) else { throw unexpected("a digit") }
            while index < bytes.count, isDigit(bytes[index]) {
                exponent = min(exponent * 10 + Int(bytes[index] - UInt8(ascii: "0")), 100_000)
                index += 1
            }
            if exponentNegative { exponent = -exponent }
        }
        if isInteger && exact {
            if negative {
                if mantissa <= UInt64(Int64.max) + 1 { return .integer(mantissa == UInt64(Int64.max) + 1 ? Int64.min : -Int64(mantissa)) }
            } else if mantissa <= UInt64(Int64.max) {
                return .integer(Int64(mantissa))
            }
        }
        let decimalExponent = exponent - fractionDigits + droppedIntegerDigits
        if exact, let value = Self.nearestDouble(mantissa: mantissa, exponent: decimalExponent) {
            return .double(negative ? -value : value)
        }
        return .double(try slowDouble(from: start))
    }

    private func slowDouble(from start: Int) throws -> Double {
        let length = index - start
        guard length < 512 else { throw Failure(reason: .outOfRange, message: "number with \(length) characters") }
        let value = withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { buffer -> Double in
            for offset in 0..<length { buffer[offset] = CChar(bitPattern: bytes[start + offset]) }
            buffer[length] = 0
            return strtod(buffer.baseAddress!, nil)
        }
        guard value.isFinite else { throw Failure(reason: .outOfRange, message: "number out of range at byte \(start)") }
        return value
    }

    @inline(__always) private func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }
}
