/// Little-endian binary output for checkpoints: fixed-width integers and floats by bit
/// pattern (so that a restored state is bit-identical), LEB128 for counts.
public struct CheckpointWriter {
    public private(set) var bytes: [UInt8] = []

    public init(reservingCapacity capacity: Int = 4_096) {
        bytes.reserveCapacity(capacity)
    }

    @inline(__always)
    public mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func write(_ value: Double) { write(value.bitPattern) }
    public mutating func write(_ value: Float) { write(value.bitPattern) }
    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    /// An optional Int64 as a presence byte and the value.
    public mutating func write(_ value: Int64?) {
        write(value != nil)
        if let value { write(value) }
    }

    /// A count or small non-negative number, 7 bits a byte.
    public mutating func writeCount(_ value: Int) {
        precondition(value >= 0, "counts are not negative")
        var rest = UInt64(value)
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    /// An identifier as its length and characters.
    public mutating func write(_ identifier: Identifier) {
        bytes.append(identifier.count)
        identifier.withBytes { bytes.append(contentsOf: $0) }
    }

    public mutating func write(bytes more: some Collection<UInt8>) {
        bytes.append(contentsOf: more)
    }
}

/// Why a checkpoint could not be read. A reader never traps on bad input: a truncated,
/// corrupted or foreign checkpoint is an error the caller falls back from.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    /// Fewer bytes than the field at `offset` needs.
    case truncated(field: String, offset: Int)
    /// A field whose value cannot be (an unknown enum case, a count beyond the data).
    case invalid(field: String, offset: Int)
    case badMagic
    /// Written by a format this build does not read.
    case unsupportedFormat(Int)
    /// The checksum over the payload does not match.
    case checksumMismatch(stored: UInt32, computed: UInt32)
    /// Written with market settings that give other rankings (zone precision, model...).
    case settingsChanged
    /// A chunk is missing or does not belong with the others.
    case incomplete(String)

    public var description: String {
        switch self {
        case .truncated(let field, let offset): "truncated at byte \(offset) reading \(field)"
        case .invalid(let field, let offset): "invalid \(field) at byte \(offset)"
        case .badMagic: "not an Amore checkpoint (bad magic)"
        case .unsupportedFormat(let format): "unsupported checkpoint format \(format)"
        case .checksumMismatch(let stored, let computed):
            "checksum mismatch (stored \(String(stored, radix: 16)), computed \(String(computed, radix: 16)))"
        case .settingsChanged: "written with other market settings"
        case .incomplete(let why): "incomplete: \(why)"
        }
    }
}

/// Reads what `CheckpointWriter` wrote, checking every length against the data.
public struct CheckpointReader {
    private let bytes: [UInt8]
    public private(set) var offset: Int
    private let end: Int

    public init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        offset = start
        self.end = end ?? bytes.count
    }

    public var remaining: Int { end - offset }

    @inline(__always)
    public mutating func read<T: FixedWidthInteger>(_: T.Type, _ field: @autoclosure () -> String) throws(CheckpointError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw .truncated(field: field(), offset: offset) }
        let value = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
        offset += size
        return T(littleEndian: value)
    }

    public mutating func readDouble(_ field: @autoclosure () -> String) throws(CheckpointError) -> Double {
        Double(bitPattern: try read(UInt64.self, field()))
    }

    public mutating func readFloat(_ field: @autoclosure () -> String) throws(CheckpointError) -> Float {
        Float(bitPattern: try read(UInt32.self, field()))
    }

    public mutating func readBool(_ field: @autoclosure () -> String) throws(CheckpointError) -> Bool {
        switch try read(UInt8.self, field()) {
        case 0: return false
        case 1: return true
        default: throw .invalid(field: field(), offset: offset - 1)
        }
    }

    public mutating func readOptional(_ field: @autoclosure () -> String) throws(CheckpointError) -> Int64? {
        try readBool(field()) ? try read(Int64.self, field()) : nil
    }

    /// A count, refused when larger than `limit` (so that a corrupted count cannot make
    /// a reader allocate without bound).
    public mutating func readCount(_ field: @autoclosure () -> String, limit: Int) throws(CheckpointError) -> Int {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard remaining >= 1 else { throw .truncated(field: field(), offset: offset) }
            let byte = bytes[offset]
            offset += 1
            guard shift < 63 else { throw .invalid(field: field(), offset: offset - 1) }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { break }
            shift += 7
        }
        guard value <= UInt64(limit) else { throw .invalid(field: field(), offset: offset) }
        return Int(value)
    }

    public mutating func readIdentifier(_ field: @autoclosure () -> String) throws(CheckpointError) -> Identifier {
        let count = Int(try read(UInt8.self, field()))
        guard remaining >= count else { throw .truncated(field: field(), offset: offset) }
        let identifier = bytes.withUnsafeBytes { Identifier(bytes: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + count])) }
        guard let identifier else { throw .invalid(field: field(), offset: offset) }
        offset += count
        return identifier
    }

    public mutating func readEnum<E: RawRepresentable>(_: E.Type, _ field: @autoclosure () -> String) throws(CheckpointError) -> E
        where E.RawValue == UInt8 {
        guard let value = E(rawValue: try read(UInt8.self, field())) else { throw .invalid(field: field(), offset: offset - 1) }
        return value
    }

    public mutating func readBytes(count: Int, _ field: @autoclosure () -> String) throws(CheckpointError) -> ArraySlice<UInt8> {
        guard count >= 0, remaining >= count else { throw .truncated(field: field(), offset: offset) }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }
}

/// CRC-32C (Castagnoli, as Kafka's record batches use), table-driven.
public enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing start: UInt32 = 0) -> UInt32 {
        var crc = ~start
        table.withUnsafeBufferPointer { table in
            for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return ~crc
    }

    public static func checksum(_ bytes: ArraySlice<UInt8>, continuing start: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: start) }
    }
}
