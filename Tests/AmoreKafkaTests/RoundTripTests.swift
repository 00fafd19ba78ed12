import AmoreKafka
import AmoreTestSupport
import Foundation
import Synchronization
import Testing

/// 100,000 keyed records with headers and explicit timestamps through a 3-partition
/// topic and back: every byte, header and timestamp identical; per-key order kept;
/// keys placed where Java's murmur2 partitioner places them.
@Suite struct RoundTripTests {
    static let recordCount = 100_000
    static let keyCount = 1_000
    static let partitions: Int32 = 3
    static let baseTimestamp_ms: Int64 = 1_764_000_000_000

    /// Record `seq`, regenerated on both sides: key, value (every byte value 0...255
    /// appears, including NUL and invalid UTF-8), headers, timestamp.
    struct Expected {
        let key: [UInt8]
        let value: [UInt8]
        let headers: [RecordHeader]
        let timestamp_ms: Int64

        init(seq: Int) {
            key = Array("restaurant-\(seq % RoundTripTests.keyCount)".utf8)
            var state = UInt64(seq) &* 0x9E37_79B9_7F4A_7C15 | 1
            value = (0..<(120 + seq % 60)).map { _ in
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                return UInt8(truncatingIfNeeded: state)
            }
            headers = [RecordHeader("seq", "\(seq)"), RecordHeader("content-type", "application/octet-stream"),
                       RecordHeader("empty", nil)]
            timestamp_ms = RoundTripTests.baseTimestamp_ms + Int64(seq)
        }
    }

    struct Delivered { var partition: Int32; var offset: Int64 }

    @Test func hundredThousandRecordsRoundTripByteIdentical() throws {
        let (servers, topic) = try TestBroker.freshTopic("roundtrip", partitions: Self.partitions)

        // Produce; every delivery report is kept by token (= seq).
        let delivered = Mutex<[Delivered?]>(Array(repeating: nil, count: Self.recordCount))
        let failures = Mutex<[KafkaError]>([])
        let producer = try Producer(configuration: KafkaConfiguration(bootstrapServers: servers), onDelivery: { report in
            if let error = report.error {
                failures.withLock { $0.append(error) }
            } else {
                delivered.withLock { $0[Int(report.token)] = Delivered(partition: report.partition, offset: report.offset) }
            }
        })
        for seq in 0..<Self.recordCount {
            let record = Expected(seq: seq)
            try producer.send(to: topic, key: record.key, value: record.value, headers: record.headers,
                              timestamp_ms: record.timestamp_ms, token: UInt(seq))
        }
        try producer.close()
        #expect(failures.withLock { $0 }.isEmpty)
        let reports = delivered.withLock { $0 }
        #expect(reports.allSatisfy { $0 != nil }, "every record has a successful delivery report")

        // Consume all partitions from the beginning.
        let consumer = try Consumer(configuration: KafkaConfiguration(bootstrapServers: servers, TestBroker.fastGroup))
        try consumer.assign((0..<Self.partitions).map { TopicPartition(topic, $0, offset: KafkaOffset.beginning) })
        var seen = [Bool](repeating: false, count: Self.recordCount)
        var lastSeqOfKey = [Int](repeating: -1, count: Self.keyCount)
        var received = 0
        var mismatches: [String] = []
        let deadline = Date().addingTimeInterval(60)
        while received < Self.recordCount && Date() < deadline {
            consumer.poll(maxRecords: 2_000, timeout_ms: 200) { batch in
                for record in batch {
                    received += 1
                    guard let seqBytes = record.header(named: "seq"), let seqText = seqBytes.map({ String(decoding: $0, as: UTF8.self) }),
                          let seq = Int(seqText), seq >= 0, seq < Self.recordCount else {
                        mismatches.append("record without a valid seq header at \(record.partition)@\(record.offset)")
                        continue
                    }
                    let expected = Expected(seq: seq)
                    if seen[seq] { mismatches.append("seq \(seq) delivered twice") }
                    seen[seq] = true
                    if record.key?.bytes != expected.key { mismatches.append("seq \(seq): key differs") }
                    if record.value?.bytes != expected.value { mismatches.append("seq \(seq): value differs") }
                    if record.headers != expected.headers { mismatches.append("seq \(seq): headers \(record.headers)") }
                    if record.timestamp_ms != expected.timestamp_ms { mismatches.append("seq \(seq): timestamp \(record.timestamp_ms)") }
                    if let report = reports[seq], report.partition != record.partition || report.offset != record.offset {
                        mismatches.append("seq \(seq): at \(record.partition)@\(record.offset), reported \(report.partition)@\(report.offset)")
                    }
                    let javaPartition = javaPartition(key: expected.key, partitions: Self.partitions)
                    if record.partition != javaPartition { mismatches.append("seq \(seq): partition \(record.partition), murmur2 says \(javaPartition)") }
                    let keyIndex = seq % Self.keyCount
                    if lastSeqOfKey[keyIndex] >= seq { mismatches.append("key \(keyIndex): seq \(seq) after \(lastSeqOfKey[keyIndex])") }
                    lastSeqOfKey[keyIndex] = seq
                }
            }
            if mismatches.count > 20 { break }
        }
        try consumer.close()
        #expect(mismatches.isEmpty, "\(mismatches.prefix(20))")
        #expect(received == Self.recordCount)
        #expect(seen.allSatisfy { $0 })
        // All three partitions were used.
        #expect(Set(reports.compactMap { $0?.partition }) == Set(0..<Self.partitions))
    }
}
