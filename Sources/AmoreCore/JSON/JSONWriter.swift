/// Appends JSON to a byte buffer; the encoders' only building block.
///
/// The buffer is its own (non-copyable, so one owner frees it): a byte written is a
/// store and a capacity check, where an `Array` append also checks uniqueness per byte
/// (a zone's ranking is ~12 KB written in ~2,000 pieces, measured in the publisher).
public struct JSONWriter: ~Copyable {
    private var start: UnsafeMutablePointer<UInt8>
    private var count = 0
    private var capacity: Int

    public init(capacity: Int = 256) {
        self.capacity = max(capacity, 16)
        start = .allocate(capacity: self.capacity)
    }

    deinit { start.deallocate() }

    /// What has been written.
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: start, count: count)) }

    @inline(__always) private mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(toHold: count + extra) }
    }

    @inline(never) private mutating func grow(toHold needed: Int) {
        let larger = max(needed, 2 * capacity)
        let moved = UnsafeMutablePointer<UInt8>.allocate(capacity: larger)
        moved.initialize(from: start, count: count)
        start.deallocate()
        start = moved
        capacity = larger
    }

    @inline(__always) private mutating func put(_ byte: UInt8) {
        reserve(1)
        start[count] = byte
        count += 1
    }

    @inline(__always) private mutating func put(_ text: UnsafeRawBufferPointer) {
        guard let base = text.baseAddress else { return }
        reserve(text.count)
        UnsafeMutableRawPointer(start + count).copyMemory(from: base, byteCount: text.count)
        count += text.count
    }

    @inline(__always) private mutating func put(_ text: StaticString) {
        put(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inline(__always) private mutating func separate() {
        guard count > 0 else { return }
        let last = start[count - 1]
        if last != UInt8(ascii: "{"), last != UInt8(ascii: "["), last != UInt8(ascii: ":") { put(UInt8(ascii: ",")) }
    }

    public mutating func beginObject() { separate(); put(UInt8(ascii: "{")) }
    public mutating func endObject() { put(UInt8(ascii: "}")) }
    public mutating func beginArray() { separate(); put(UInt8(ascii: "[")) }
    public mutating func endArray() { put(UInt8(ascii: "]")) }

    /// A member name; the value follows with one of the value writers.
    public mutating func key(_ name: StaticString) {
        separate()
        put(UInt8(ascii: "\""))
        put(name)
        put(UInt8(ascii: "\""))
        put(UInt8(ascii: ":"))
    }

    public mutating func value(_ text: StaticString) {
        separate()
        put(UInt8(ascii: "\""))
        put(text)
        put(UInt8(ascii: "\""))
    }

    public mutating func value(_ identifier: Identifier) {
        separate()
        put(UInt8(ascii: "\""))
        identifier.withBytes { put($0) }  // the alphabet needs no escaping
        put(UInt8(ascii: "\""))
    }

    /// Any text, escaped per RFC 8259.
    public mutating func value(_ text: String) {
        separate()
        put(UInt8(ascii: "\""))
        let hex: StaticString = "0123456789abcdef"
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): put(UInt8(ascii: "\\")); put(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): put(UInt8(ascii: "\\")); put(UInt8(ascii: "\\"))
            case 0..<0x20:
                put("\\u00")
                put(hex.utf8Start[Int(byte >> 4)])
                put(hex.utf8Start[Int(byte & 0xF)])
            default: put(byte)
            }
        }
        put(UInt8(ascii: "\""))
    }

    public mutating func value(_ number: Int64) {
        separate()
        if number < 0 { put(UInt8(ascii: "-")) }
        // Digits from the last, into a scratch of 20 (the most an Int64 has).
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var magnitude = number.magnitude
        withUnsafeMutableBytes(of: &digits) { scratch in
            var first = scratch.count
            repeat {
                first -= 1
                scratch[first] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            put(UnsafeRawBufferPointer(rebasing: scratch[first...]))
        }
    }

    public mutating func value(_ number: Int) { value(Int64(number)) }

    /// A finite double in its shortest form that reads back to the same value.
    public mutating func value(_ number: Double) {
        precondition(number.isFinite, "JSON has no infinities or NaN")
        separate()
        var text = number.description
        text.withUTF8 { put(UnsafeRawBufferPointer($0)) }
    }

    public mutating func value(_ flag: Bool) {
        separate()
        put(flag ? "true" : "false")
    }

    public mutating func null() {
        separate()
        put("null")
    }

    /// Standard base64 (RFC 4648, padded) of `data`, as a string value.
    public mutating func base64(_ data: UnsafeRawBufferPointer) {
        separate()
        let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        let symbol = { (chunk: UInt32, shift: UInt32) in alphabet.utf8Start[Int((chunk >> shift) & 63)] }
        put(UInt8(ascii: "\""))
        var index = 0
        while index + 3 <= data.count {
            let chunk = UInt32(data[index]) << 16 | UInt32(data[index + 1]) << 8 | UInt32(data[index + 2])
            put(symbol(chunk, 18)); put(symbol(chunk, 12)); put(symbol(chunk, 6)); put(symbol(chunk, 0))
            index += 3
        }
        let rest = data.count - index
        if rest > 0 {
            let chunk = UInt32(data[index]) << 16 | (rest == 2 ? UInt32(data[index + 1]) << 8 : 0)
            put(symbol(chunk, 18))
            put(symbol(chunk, 12))
            put(rest == 2 ? symbol(chunk, 6) : UInt8(ascii: "="))
            put(UInt8(ascii: "="))
        }
        put(UInt8(ascii: "\""))
    }
}
