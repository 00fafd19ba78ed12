import AmoreKafka
import AmoreTestSupport
import Foundation
import Synchronization
import Testing

/// Group membership, rebalances and committed offsets against the real broker.
@Suite struct ConsumerGroupTests {
    /// One group member on its own thread: records every record it sees and commits per
    /// `commitLimit` (the highest offset + 1 it may commit for a partition; nil = all).
    final class Member: Sendable {
        struct State {
            var assigned: Set<TopicPartition> = []
            var seen: [TopicPartition: [Int64]] = [:]  // partition (no offset) → offsets in order
            var committed: [TopicPartition: Int64] = [:]
            var rebalances: [String] = []
            var errors: [String] = []
        }

        let name: String
        let state = Locked(State())
        private let stopping = Atomic<Bool>(false)
        private let consumer: Consumer
        private let listener: RebalanceRecorder
        private let thread = Mutex<TestThread?>(nil)
        private let commitLimit: @Sendable (TopicPartition) -> Int64?

        init(name: String, servers: String, group: String, topic: String,
             commitLimit: @escaping @Sendable (TopicPartition) -> Int64? = { _ in nil }) throws {
            self.name = name
            self.commitLimit = commitLimit
            let state = self.state
            var properties = TestBroker.fastGroup
            properties["group.id"] = group
            properties["partition.assignment.strategy"] = "range"
            consumer = try Consumer(configuration: KafkaConfiguration(bootstrapServers: servers, properties),
                                    onError: { error in state.withLock { $0.errors.append("\(error)") } })
            listener = RebalanceRecorder { event in
                state.withLock { s in
                    switch event {
                    case .assigned(let partitions, _):
                        s.assigned.formUnion(partitions.map { TopicPartition($0.topic, $0.partition) })
                        s.rebalances.append("assigned \(partitions.count)")
                    case .revoked(let partitions, _):
                        s.assigned.subtract(partitions.map { TopicPartition($0.topic, $0.partition) })
                        s.rebalances.append("revoked \(partitions.count)")
                    case .failed(let error):
                        s.errors.append("rebalance failed: \(error)")
                    }
                }
            }
            try consumer.subscribe(to: [topic], listener: listener)
            thread.withLock { $0 = TestThread { [self] in self.run() } }
        }

        private func run() {
            while !stopping.load(ordering: .acquiring) {
                var toCommit: [TopicPartition: Int64] = [:]
                consumer.poll(maxRecords: 500, timeout_ms: 50) { batch in
                    state.withLock { s in
                        for record in batch {
                            let partition = TopicPartition(record.topic, record.partition)
                            s.seen[partition, default: []].append(record.offset)
                            let next = record.offset + 1
                            if let limit = commitLimit(partition), next > limit { continue }
                            toCommit[partition] = next
                        }
                    }
                }
                if !toCommit.isEmpty {
                    let offsets = toCommit.map { TopicPartition($0.key.topic, $0.key.partition, offset: $0.value) }
                    do {
                        try consumer.commit(offsets)
                        state.withLock { s in for (p, o) in toCommit { s.committed[p] = o } }
                    } catch {
                        state.withLock { $0.errors.append("commit: \(error)") }
                    }
                }
            }
        }

        /// Stops polling and leaves the group.
        func leave() throws {
            stopping.store(true, ordering: .releasing)
            thread.withLock { $0 }?.join()
            try consumer.close()
        }

        var snapshot: State { state.withLock { $0 } }
    }

    /// Hand-worked: 6 partitions, 2 members with range assignment → 3 partitions each.
    /// 100 records per partition are produced once both are settled. A commits only up
    /// to offset 50 of each of its partitions but reads all 100; B commits everything.
    /// A leaves. B must then own all 6 partitions and re-read exactly offsets 50...99 of
    /// A's partitions (A's uncommitted tail: 150 duplicates), nothing of its own again,
    /// and no record may be missing from the union.
    @Test func twoMembersSplitPartitionsAndSurvivorResumesFromCommits() throws {
        let partitions: Int32 = 6
        let perPartition = 100
        let (servers, topic) = try TestBroker.freshTopic("group", partitions: partitions)
        let group = "group-\(UUID().uuidString.prefix(8))"
        let a = try Member(name: "A", servers: servers, group: group, topic: topic, commitLimit: { _ in 50 })
        let b = try Member(name: "B", servers: servers, group: group, topic: topic)

        let settled = eventually(timeout_s: 30) {
            let (sa, sb) = (a.snapshot.assigned, b.snapshot.assigned)
            return sa.count == 3 && sb.count == 3 && sa.isDisjoint(with: sb)
        }
        #expect(settled, "A: \(a.snapshot.assigned), B: \(b.snapshot.assigned)")
        try #require(settled)

        let producer = try Producer(configuration: KafkaConfiguration(bootstrapServers: servers))
        for p in 0..<partitions {
            for i in 0..<perPartition {
                try producer.send(to: topic, partition: p, key: Array("k\(i)".utf8), value: Array("\(p)-\(i)".utf8))
            }
        }
        try producer.close()

        let total = Int(partitions) * perPartition
        let allRead = eventually(timeout_s: 30) {
            a.snapshot.seen.values.map(\.count).reduce(0, +) + b.snapshot.seen.values.map(\.count).reduce(0, +) == total
        }
        #expect(allRead)
        // Wait for A's commits of offset 50 to be confirmed before it leaves.
        #expect(eventually(timeout_s: 10) { a.snapshot.committed.count == 3 && a.snapshot.committed.values.allSatisfy { $0 == 50 } })
        let aPartitions = a.snapshot.assigned
        let bPartitionsBefore = b.snapshot.assigned
        let bSeenBefore = b.snapshot.seen
        try a.leave()

        let tookOver = eventually(timeout_s: 30) {
            let s = b.snapshot
            return s.assigned.count == 6 && aPartitions.allSatisfy { (s.seen[$0]?.count ?? 0) >= perPartition / 2 }
        }
        #expect(tookOver, "B: \(b.snapshot.assigned), rebalances \(b.snapshot.rebalances)")
        Thread.sleep(forTimeInterval: 0.5)  // anything extra (wrongly) re-read would show up now
        try b.leave()

        let final = b.snapshot
        for partition in aPartitions {
            #expect(final.seen[partition] == Array(50..<Int64(perPartition)), "B re-reads exactly A's uncommitted tail of \(partition)")
        }
        for partition in bPartitionsBefore {
            #expect(final.seen[partition] == bSeenBefore[partition], "B reads nothing of \(partition) again")
            #expect(final.seen[partition] == Array(0..<Int64(perPartition)))
        }
        // Nothing lost: the union covers every offset of every partition.
        let aSeen = a.snapshot.seen
        for p in 0..<partitions {
            let partition = TopicPartition(topic, p)
            let union = Set(aSeen[partition] ?? []).union(final.seen[partition] ?? [])
            #expect(union == Set(0..<Int64(perPartition)), "partition \(p)")
        }
        #expect(a.snapshot.errors.isEmpty && final.errors.isEmpty, "\(a.snapshot.errors) \(final.errors)")
    }

    /// A consumer that committed offset 7 and left is replaced by a new one in the same
    /// group, which must start exactly at offset 7.
    @Test func restartedConsumerResumesExactlyAfterTheCommit() throws {
        let (servers, topic) = try TestBroker.freshTopic("resume", partitions: 1)
        let producer = try Producer(configuration: KafkaConfiguration(bootstrapServers: servers))
        for i in 0..<20 { try producer.send(to: topic, key: nil, value: Array("v\(i)".utf8)) }
        try producer.close()

        var properties = TestBroker.fastGroup
        properties["group.id"] = "resume-\(UUID().uuidString.prefix(8))"
        let configuration = KafkaConfiguration(bootstrapServers: servers, properties)

        let first = try Consumer(configuration: configuration)
        try first.subscribe(to: [topic])
        var firstOffsets: [Int64] = []
        _ = eventually(timeout_s: 20) {
            first.poll(maxRecords: 7 - firstOffsets.count, timeout_ms: 100) { batch in
                for record in batch { firstOffsets.append(record.offset) }
            }
            return firstOffsets.count >= 7
        }
        #expect(firstOffsets == Array(0..<7))
        // Store through the record-less API, commit synchronously, leave.
        try first.store([TopicPartition(topic, 0, offset: 7)])
        try first.commit()
        #expect(try first.committed([TopicPartition(topic, 0)]).first?.offset == 7)
        try first.close()

        let second = try Consumer(configuration: configuration)
        try second.subscribe(to: [topic])
        var secondOffsets: [Int64] = []
        var values: [String] = []
        _ = eventually(timeout_s: 20) {
            second.poll(maxRecords: 100, timeout_ms: 100) { batch in
                for record in batch {
                    secondOffsets.append(record.offset)
                    values.append(String(decoding: record.value!, as: UTF8.self))
                }
            }
            return secondOffsets.count >= 13
        }
        try second.close()
        #expect(secondOffsets == Array(7..<20))
        #expect(values.first == "v7")
    }
}
