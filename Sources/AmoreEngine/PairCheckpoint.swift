import AmoreCore

/// A partition pair's complete state at a merge boundary, as bytes: where each side
/// resumes and every market's state (docs/checkpoints.md). Restoring it and replaying the
/// input from `ordersOffset` / `couriersOffset` gives the rankings and versions a replay
/// from the beginning gives.
///
/// Layout (little-endian): magic `AMORECKP`, format (u16), partition (i32), written at
/// (ms, i64), orders and couriers resume offsets (i64), the input topics' names
/// (count + UTF-8 `orders\ncouriers`), market settings fingerprint (u64), market count,
/// the markets (`MarketState.write(to:)`), CRC-32C of everything before it (u32).
struct PairCheckpoint {
    static let magic = Array("AMORECKP".utf8)
    static let format: UInt16 = 1

    var partition: Int32
    var writtenAt_ms: Int64
    var ordersOffset: Int64
    var couriersOffset: Int64
    /// `orders\ncouriers`: the offsets mean nothing for other topics.
    var inputs: String

    /// Encodes the pair as it stands (call between drains, never inside one).
    static func encode(_ pair: PartitionPair, inputs: String, settings: MarketSettings, writtenAt_ms: Int64,
                       capacity: Int) -> (checkpoint: PairCheckpoint, bytes: [UInt8]) {
        let checkpoint = PairCheckpoint(partition: pair.partition, writtenAt_ms: writtenAt_ms,
                                        ordersOffset: pair.resumeOffset(.orders) ?? 0,
                                        couriersOffset: pair.resumeOffset(.couriers) ?? 0, inputs: inputs)
        var writer = CheckpointWriter(reservingCapacity: capacity)
        checkpoint.writeHeader(to: &writer)
        writer.write(settings.fingerprint)
        // Markets in id order: the same state always gives the same bytes.
        let markets = pair.markets.sorted { $0.key < $1.key }
        writer.writeCount(markets.count)
        for (_, market) in markets { market.state.write(to: &writer) }
        return (checkpoint, sealed(writer.bytes))
    }

    private func writeHeader(to writer: inout CheckpointWriter) {
        writer.write(bytes: Self.magic)
        writer.write(Self.format)
        writer.write(partition)
        writer.write(writtenAt_ms)
        writer.write(ordersOffset)
        writer.write(couriersOffset)
        writer.writeCount(inputs.utf8.count)
        writer.write(bytes: inputs.utf8)
    }

    private static func sealed(_ bytes: [UInt8]) -> [UInt8] {
        var bytes = bytes
        let crc = bytes.withUnsafeBytes { CRC32C.checksum($0) }
        withUnsafeBytes(of: crc.littleEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// The same state resuming at other offsets of other input topics: how a backup taken
    /// from one cluster continues in another, whose input topics hold other records
    /// (the restored markets continue with whatever arrives there after `ordersOffset`
    /// and `couriersOffset`).
    static func rebased(_ bytes: [UInt8], ordersOffset: Int64, couriersOffset: Int64,
                        inputs: String) throws(CheckpointError) -> [UInt8] {
        var checkpoint = try header(of: bytes)
        var reader = CheckpointReader(bytes, from: magic.count + 2, to: bytes.count - 4)
        _ = try header(&reader)
        let body = try reader.readBytes(count: reader.remaining, "body")
        checkpoint.ordersOffset = ordersOffset
        checkpoint.couriersOffset = couriersOffset
        checkpoint.inputs = inputs
        var writer = CheckpointWriter(reservingCapacity: bytes.count + inputs.utf8.count)
        checkpoint.writeHeader(to: &writer)
        writer.write(bytes: body)
        return sealed(writer.bytes)
    }

    /// Checks magic, format and checksum, and reads the header only (cheap: a restore
    /// picks a checkpoint by its offsets before restoring any market).
    static func header(of bytes: [UInt8]) throws(CheckpointError) -> PairCheckpoint {
        guard bytes.count >= magic.count + 2 + 4 else { throw .truncated(field: "header", offset: bytes.count) }
        guard bytes.starts(with: magic) else { throw .badMagic }
        var reader = CheckpointReader(bytes, from: magic.count, to: bytes.count - 4)
        let format = try reader.read(UInt16.self, "format")
        guard format == Self.format else { throw .unsupportedFormat(Int(format)) }
        let stored = UInt32(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self) })
        let computed = CRC32C.checksum(bytes[..<(bytes.count - 4)])
        guard stored == computed else { throw .checksumMismatch(stored: stored, computed: computed) }
        return try header(&reader)
    }

    private static func header(_ reader: inout CheckpointReader) throws(CheckpointError) -> PairCheckpoint {
        let partition = try reader.read(Int32.self, "partition")
        let writtenAt_ms = try reader.read(Int64.self, "written_at_ms")
        let ordersOffset = try reader.read(Int64.self, "orders_offset")
        let couriersOffset = try reader.read(Int64.self, "couriers_offset")
        let count = try reader.readCount("inputs", limit: 2 * 256)
        let inputs = String(decoding: try reader.readBytes(count: count, "inputs"), as: UTF8.self)
        return PairCheckpoint(partition: partition, writtenAt_ms: writtenAt_ms, ordersOffset: ordersOffset,
                              couriersOffset: couriersOffset, inputs: inputs)
    }

    /// Restores the markets of a checkpoint whose header was checked (`header(of:)`),
    /// registering them on `board`.
    static func markets(of bytes: [UInt8], board: RankingBoard,
                        settings: MarketSettings) throws(CheckpointError) -> [Identifier: MarketBox] {
        var reader = CheckpointReader(bytes, from: magic.count + 2, to: bytes.count - 4)
        _ = try header(&reader)
        guard try reader.read(UInt64.self, "settings_fingerprint") == settings.fingerprint else { throw .settingsChanged }
        let count = try reader.readCount("markets", limit: reader.remaining)
        var markets: [Identifier: MarketBox] = [:]
        for _ in 0..<count {
            let state = try MarketState.restored(from: &reader, board: board, settings: settings)
            guard markets[state.marketID] == nil else { throw .invalid(field: "market_id (repeated)", offset: reader.offset) }
            markets[state.marketID] = MarketBox(state)
        }
        guard reader.remaining == 0 else { throw .invalid(field: "trailing bytes", offset: reader.offset) }
        return markets
    }
}
