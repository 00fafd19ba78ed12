import AmoreCore
import AmoreKafka
import Logging

/// One deployment's state in a file: the restaurant profiles table and the newest valid
/// checkpoint of every partition pair (docs/checkpoints.md, "Backup and restore").
///
/// Layout (little-endian): magic `AMOREBAK`, format (u16), created at (ms, i64), the
/// source input topics (count + UTF-8), profiles (count, then key and value as count +
/// bytes each), checkpoints (count, then pair (i32) and the checkpoint as count + bytes),
/// CRC-32C of everything before it (u32).
public struct BackupArchive: Sendable {
    static let magic = Array("AMOREBAK".utf8)
    static let format: UInt16 = 1

    public var createdAt_ms: Int64
    /// `orders\ncouriers` of the cluster the backup was taken from.
    public var inputs: String
    /// The newest value of every restaurant key.
    public var profiles: [(key: [UInt8], value: [UInt8])]
    public var checkpoints: [(pair: Int32, bytes: [UInt8])]

    public func encoded() -> [UInt8] {
        var writer = CheckpointWriter(reservingCapacity: checkpoints.reduce(64) { $0 + $1.bytes.count + 16 })
        writer.write(bytes: Self.magic)
        writer.write(Self.format)
        writer.write(createdAt_ms)
        writer.writeCount(inputs.utf8.count)
        writer.write(bytes: inputs.utf8)
        writer.writeCount(profiles.count)
        for profile in profiles {
            writer.writeCount(profile.key.count)
            writer.write(bytes: profile.key)
            writer.writeCount(profile.value.count)
            writer.write(bytes: profile.value)
        }
        writer.writeCount(checkpoints.count)
        for checkpoint in checkpoints {
            writer.write(checkpoint.pair)
            writer.writeCount(checkpoint.bytes.count)
            writer.write(bytes: checkpoint.bytes)
        }
        var bytes = writer.bytes
        let crc = bytes.withUnsafeBytes { CRC32C.checksum($0) }
        withUnsafeBytes(of: crc.littleEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }

    public init(bytes: [UInt8]) throws(CheckpointError) {
        guard bytes.count >= Self.magic.count + 2 + 4 else { throw .truncated(field: "archive header", offset: bytes.count) }
        guard bytes.starts(with: Self.magic) else { throw .badMagic }
        let stored = UInt32(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self) })
        let computed = CRC32C.checksum(bytes[..<(bytes.count - 4)])
        guard stored == computed else { throw .checksumMismatch(stored: stored, computed: computed) }
        var reader = CheckpointReader(bytes, from: Self.magic.count, to: bytes.count - 4)
        let format = try reader.read(UInt16.self, "format")
        guard format == Self.format else { throw .unsupportedFormat(Int(format)) }
        createdAt_ms = try reader.read(Int64.self, "created_at_ms")
        inputs = String(decoding: try reader.readBytes(count: try reader.readCount("inputs", limit: 512), "inputs"), as: UTF8.self)
        profiles = []
        for _ in 0..<(try reader.readCount("profiles", limit: reader.remaining)) {
            let key = Array(try reader.readBytes(count: try reader.readCount("profile_key", limit: reader.remaining), "profile_key"))
            let value = Array(try reader.readBytes(count: try reader.readCount("profile_value", limit: reader.remaining), "profile_value"))
            profiles.append((key, value))
        }
        checkpoints = []
        for _ in 0..<(try reader.readCount("checkpoints", limit: reader.remaining)) {
            let pair = try reader.read(Int32.self, "pair")
            let count = try reader.readCount("checkpoint", limit: reader.remaining)
            checkpoints.append((pair, Array(try reader.readBytes(count: count, "checkpoint"))))
        }
        guard reader.remaining == 0 else { throw .invalid(field: "trailing bytes", offset: reader.offset) }
    }

    init(createdAt_ms: Int64, inputs: String, profiles: [(key: [UInt8], value: [UInt8])], checkpoints: [(pair: Int32, bytes: [UInt8])]) {
        self.createdAt_ms = createdAt_ms
        self.inputs = inputs
        self.profiles = profiles
        self.checkpoints = checkpoints
    }
}

/// `amore backup` and `amore restore`: copying a deployment's state into another cluster
/// (production into staging, regularly: the recovery drill that keeps the team practised).
public enum Backup {
    /// Reads the whole profiles topic (the newest value per key) and the newest valid
    /// checkpoint of every pair.
    public static func take(settings: EngineSettings, logger: Logger) throws -> BackupArchive {
        let admin = try Admin(configuration: settings.kafka, logger: logger)
        let metadata = try admin.waitForTopics([settings.topics.restaurants, settings.topics.orders, settings.topics.checkpoints],
                                               timeout_ms: 10_000)
        let pairs = Int32(metadata.topic(settings.topics.orders)?.partitions.count ?? 0)
        var configuration = settings.kafka.withDefaults(settings.consumerProperties)
        configuration["group.id"] = "\(settings.groupID).backup"
        configuration["enable.auto.commit"] = "false"
        configuration["enable.partition.eof"] = "true"

        let consumer = try Consumer(configuration: configuration, logger: logger)
        defer { try? consumer.close() }
        let partitions = metadata.topic(settings.topics.restaurants)?.partitions.map(\.id) ?? []
        _ = try consumer.assign(partitions.map { TopicPartition(settings.topics.restaurants, $0, offset: KafkaOffset.beginning) })
        var remaining = Set(partitions)
        var table: [[UInt8]: [UInt8]] = [:]
        var order: [[UInt8]] = []
        while !remaining.isEmpty {
            consumer.poll(maxRecords: 2_000, timeout_ms: 200) { batch in
                for record in batch {
                    guard let key = record.key.map({ Array($0) }) else { continue }
                    if let value = record.value {
                        if table.updateValue(Array(value), forKey: key) == nil { order.append(key) }
                    } else {
                        table[key] = nil
                    }
                }
                for end in batch.reachedEnd { remaining.remove(end.partition) }
            }
        }
        let profiles = order.compactMap { key in table[key].map { (key, $0) } }

        let store = try CheckpointStore(topic: settings.topics.checkpoints, partitions: pairs,
                                        consumerConfiguration: configuration, logger: logger)
        defer { store.close() }
        var checkpoints: [(pair: Int32, bytes: [UInt8])] = []
        for pair in 0..<pairs {
            let (found, passedOver) = try store.newest(pair: pair) { bytes in
                guard try PairCheckpoint.header(of: bytes).partition == pair else {
                    throw CheckpointError.invalid(field: "partition", offset: 0)
                }
                return bytes
            }
            for rejection in passedOver {
                logger.warning("backup: passed over a checkpoint", metadata: ["pair": "\(pair)", "reason": "\(rejection.reason)"])
            }
            if let found { checkpoints.append((pair, found)) }
        }
        return BackupArchive(createdAt_ms: Clock.wall_ms(), inputs: "\(settings.topics.orders)\n\(settings.topics.couriers)",
                             profiles: profiles, checkpoints: checkpoints)
    }

    /// Loads an archive into `settings`' cluster: creates missing topics, writes the
    /// profiles, writes each checkpoint rebased onto the end of this cluster's input
    /// topics, and commits the group's offsets there, so that an engine of this group
    /// started next restores the markets and continues with this cluster's new input.
    /// Returns what it did, one line per step.
    public static func restore(_ archive: BackupArchive, settings: EngineSettings, logger: Logger) throws -> [String] {
        let pairs = Int32(try Engine.prepareTopics(settings, logger: logger))
        var report: [String] = []
        let producer = try Producer(configuration: settings.kafka.withDefaults(settings.producerProperties), logger: logger)
        for profile in archive.profiles {
            try producer.send(to: settings.topics.restaurants, key: profile.key, value: profile.value)
        }
        report.append("profiles: \(archive.profiles.count) written to \(settings.topics.restaurants)")

        var configuration = settings.kafka.withDefaults(settings.consumerProperties)
        configuration["group.id"] = settings.groupID
        configuration["enable.auto.commit"] = "false"
        let consumer = try Consumer(configuration: configuration, logger: logger)
        defer { try? consumer.close() }
        let store = try CheckpointStore(topic: settings.topics.checkpoints, partitions: pairs,
                                        consumerConfiguration: configuration, logger: logger)
        defer { store.close() }
        let inputs = "\(settings.topics.orders)\n\(settings.topics.couriers)"
        var offsets: [TopicPartition] = []
        for (pair, bytes) in archive.checkpoints {
            guard pair < pairs else {
                report.append("pair \(pair): skipped (this cluster's inputs have \(pairs) partitions)")
                continue
            }
            let orders = try consumer.watermarks(topic: settings.topics.orders, partition: pair, timeout_ms: 10_000).high
            let couriers = try consumer.watermarks(topic: settings.topics.couriers, partition: pair, timeout_ms: 10_000).high
            let rebased = try PairCheckpoint.rebased(bytes, ordersOffset: orders, couriersOffset: couriers, inputs: inputs)
            for chunk in store.chunks(of: rebased, pair: pair) {
                try producer.send(to: settings.topics.checkpoints, partition: chunk.partition, key: chunk.key, value: chunk.value)
            }
            offsets += [TopicPartition(settings.topics.orders, pair, offset: orders),
                        TopicPartition(settings.topics.couriers, pair, offset: couriers)]
            report.append("pair \(pair): checkpoint of \(bytes.count) bytes, resuming at orders \(orders), couriers \(couriers)")
        }
        try producer.flush(timeout_ms: 60_000)
        if !offsets.isEmpty { try consumer.commit(offsets, async: false) }
        report.append("group \(settings.groupID): offsets committed at the end of \(settings.topics.orders) and \(settings.topics.couriers)")
        return report
    }
}
