import AmoreCore
import AmoreKafka
import Logging

/// Checkpoints of partition pairs in a compacted Kafka topic (`amore.checkpoints`).
///
/// A checkpoint is split into chunks of at most `chunkSize` bytes (well under the
/// brokers' 1 MB default message limit), written one after another to the checkpoint
/// topic's partition `pair % partitions` by the pair's single owner. Each chunk carries
/// its pair, the checkpoint's id and its place (`Chunk`), so a reader assembles only
/// complete checkpoints. Keys alternate between two slots per pair
/// (`pair-N/slot-S/chunk-I`): compaction keeps the newest two checkpoints of each pair,
/// so a torn newest one still leaves a whole older one.
final class CheckpointStore {
    /// 256 KB: a 1,000,000-courier pair is ~150 chunks.
    static let chunkSize = 256 * 1024

    /// The fixed prefix of every chunk's value.
    struct Chunk {
        static let magic: UInt32 = 0x4B43_4D41  // "AMCK"
        static let headerSize = 4 + 4 + 8 + 4 + 4
        var pair: Int32
        var checkpointID: UInt64
        var index: UInt32
        var count: UInt32
    }

    let topic: String
    private let partitions: Int32
    private let reader: Consumer
    private let logger: Logger
    private var sequence: UInt64 = 0

    init(topic: String, partitions: Int32, consumerConfiguration: KafkaConfiguration, logger: Logger) throws {
        self.topic = topic
        self.partitions = max(1, partitions)
        self.logger = logger
        var configuration = consumerConfiguration
        configuration["enable.auto.commit"] = "false"
        configuration["enable.partition.eof"] = "true"
        reader = try Consumer(configuration: configuration, logger: logger,
                              onError: { [logger] error in logger.warning("checkpoint reader: \(error)") })
        _ = try reader.metadata(topic: topic, timeout_ms: 10_000)
    }

    func close() { try? reader.close() }

    /// The records of one checkpoint: (partition, key, value) in write order.
    func chunks(of bytes: [UInt8], pair: Int32) -> [(partition: Int32, key: [UInt8], value: [UInt8])] {
        sequence += 1
        let id = UInt64(UInt32.random(in: .min ... .max)) << 32 | (sequence & 0xFFFF_FFFF)
        let count = max(1, (bytes.count + Self.chunkSize - 1) / Self.chunkSize)
        let partition = pair % partitions
        return (0..<count).map { index in
            var value: [UInt8] = []
            value.reserveCapacity(Chunk.headerSize + Self.chunkSize)
            withUnsafeBytes(of: Chunk.magic.littleEndian) { value.append(contentsOf: $0) }
            withUnsafeBytes(of: pair.littleEndian) { value.append(contentsOf: $0) }
            withUnsafeBytes(of: id.littleEndian) { value.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt32(index).littleEndian) { value.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt32(count).littleEndian) { value.append(contentsOf: $0) }
            value.append(contentsOf: bytes[(index * Self.chunkSize)..<min(bytes.count, (index + 1) * Self.chunkSize)])
            return (partition, Array("pair-\(pair)/slot-\(sequence % 2)/chunk-\(index)".utf8), value)
        }
    }

    /// Why a stored checkpoint was passed over (logged and counted by the caller).
    struct Rejection {
        var checkpointID: UInt64
        var reason: String
    }

    /// The newest complete checkpoint of `pair` that `accept` takes (it throws to pass one
    /// over: too new for the committed offsets, other settings, corrupt), reading the
    /// partition backwards from its end in growing windows; nil when none is usable.
    func newest<T>(pair: Int32, accept: ([UInt8]) throws -> T) throws -> (T?, rejected: [Rejection]) {
        let partition = pair % partitions
        let marks = try reader.watermarks(topic: topic, partition: partition, timeout_ms: 10_000)
        var window: Int64 = 512
        var rejected: [Rejection] = []
        var tried = Set<UInt64>()
        while true {
            let start = max(marks.low, marks.high - window)
            let found = try read(partition: partition, from: start, pair: pair)
            // Newest first: by the offset of each checkpoint's last chunk.
            for candidate in found.sorted(by: { $0.lastOffset > $1.lastOffset }) where !tried.contains(candidate.id) {
                tried.insert(candidate.id)
                guard let bytes = candidate.assembled else {
                    rejected.append(Rejection(checkpointID: candidate.id, reason: "incomplete: a chunk is missing"))
                    continue
                }
                do {
                    return (try accept(bytes), rejected)
                } catch {
                    rejected.append(Rejection(checkpointID: candidate.id, reason: "\(error)"))
                }
            }
            if start <= marks.low { return (nil, rejected) }
            window *= 8
        }
    }

    private struct Candidate {
        var id: UInt64
        var count: Int
        var parts: [Int: [UInt8]] = [:]
        var lastOffset: Int64 = -1

        var assembled: [UInt8]? {
            guard parts.count == count else { return nil }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(count * CheckpointStore.chunkSize)
            for index in 0..<count {
                guard let part = parts[index] else { return nil }
                bytes += part
            }
            return bytes
        }
    }

    /// Every chunk of `pair` from `start` to the partition's end, grouped by checkpoint.
    private func read(partition: Int32, from start: Int64, pair: Int32) throws -> [Candidate] {
        try reader.assign([TopicPartition(topic, partition, offset: start)])
        defer { _ = try? reader.assign([]) }
        var candidates: [UInt64: Candidate] = [:]
        var reachedEnd = false
        let deadline_ns = Clock.monotonic_ns() + 30_000_000_000
        while !reachedEnd {
            guard Clock.monotonic_ns() < deadline_ns else {
                throw EngineError.checkpointReadTimedOut(topic: topic, partition: partition)
            }
            reader.poll(maxRecords: 1_000, timeout_ms: 100) { batch in
                for record in batch {
                    guard let value = record.value, value.count >= Chunk.headerSize,
                          value.loadUnaligned(as: UInt32.self) == Chunk.magic.littleEndian,
                          Int32(littleEndian: value.loadUnaligned(fromByteOffset: 4, as: Int32.self)) == pair else { continue }
                    let id = UInt64(littleEndian: value.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                    let index = Int(UInt32(littleEndian: value.loadUnaligned(fromByteOffset: 16, as: UInt32.self)))
                    let count = Int(UInt32(littleEndian: value.loadUnaligned(fromByteOffset: 20, as: UInt32.self)))
                    guard count > 0, index < count else { continue }
                    var candidate = candidates[id] ?? Candidate(id: id, count: count)
                    guard candidate.count == count else { continue }
                    candidate.parts[index] = Array(value[Chunk.headerSize...])
                    candidate.lastOffset = max(candidate.lastOffset, record.offset)
                    candidates[id] = candidate
                }
                if batch.reachedEnd.contains(where: { $0.partition == partition }) { reachedEnd = true }
            }
        }
        return Array(candidates.values)
    }
}
