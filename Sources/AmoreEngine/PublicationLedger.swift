import AmoreKafka
import Synchronization

/// Decides which offsets may be committed: those whose effects have been acknowledged.
///
/// Every record the engine produces (a ranking or a dead letter) belongs to the current
/// *epoch*; closing an epoch records the input positions reached by then (its
/// checkpoint). A checkpoint may be committed once its epoch and every earlier one have
/// all their records acknowledged. Delivery reports arrive on the producer's thread, the
/// rest on the engine's, hence the lock (taken per produced record, not per input record).
final class PublicationLedger: Sendable {
    private struct State {
        var epoch: UInt64 = 0
        var pending: [UInt64: Int] = [:]
        var checkpoints: [(epoch: UInt64, offsets: [TopicPartition])] = []
        var failure: KafkaError?
    }

    private let state = Mutex(State())
    // Tokens carry the epoch (high 24 bits) and the triggering record's CreateTime modulo
    // 2^40 ms (34 years; never 0), so acknowledging needs no lookup.
    private static let timeBits: UInt64 = 40
    private static let timeMask: UInt64 = (1 << timeBits) - 1
    private static let epochMask: UInt64 = (1 << 24) - 1

    /// Registers a record about to be produced; its token goes with it. `createTime_ms`
    /// 0 means no delay is measured for it (dead letters).
    func token(createTime_ms: Int64) -> UInt {
        let epoch = state.withLock { state in
            state.pending[state.epoch, default: 0] += 1
            return state.epoch
        }
        let created = createTime_ms > 0 ? max(1, UInt64(createTime_ms) & Self.timeMask) : 0
        return UInt((epoch & Self.epochMask) << Self.timeBits | created)
    }

    /// A produce call failed at once: the record will never be reported.
    func withdraw(_ token: UInt) {
        settle(token, failure: nil)
    }

    /// Records a delivery report; returns the time since the triggering record's
    /// CreateTime (ms; the token holds it modulo 2^40 ms), nil when none was given.
    @discardableResult
    func acknowledge(_ report: DeliveryReport, now_ms: Int64) -> Int64? {
        settle(report.token, failure: report.error)
        let created = UInt64(report.token) & Self.timeMask
        guard created != 0 else { return nil }
        return Int64((UInt64(max(0, now_ms)) &- created) & Self.timeMask)
    }

    /// Ends the current epoch with the input positions reached so far.
    func closeEpoch(checkpoint offsets: [TopicPartition]) {
        state.withLock { state in
            state.checkpoints.append((state.epoch, offsets))
            state.epoch += 1
        }
    }

    /// Drops `partitions` from every checkpoint not yet committed: they were lost to
    /// another member, and committing for them would be refused (or overwrite its commits).
    func forget(partitions: Set<Int32>) {
        state.withLock { state in
            state.checkpoints = state.checkpoints.map { ($0.epoch, $0.offsets.filter { !partitions.contains($0.partition) }) }
        }
    }

    /// The newest checkpoint that may be committed (every record produced before it
    /// acknowledged), removing it and the older ones; nil when there is none.
    func takeCommittable() -> [TopicPartition]? {
        state.withLock { state in
            var newest: [TopicPartition]?
            while let first = state.checkpoints.first, (state.pending[first.epoch] ?? 0) == 0 {
                state.pending[first.epoch] = nil
                newest = first.offsets
                state.checkpoints.removeFirst()
            }
            return newest
        }
    }

    /// The first delivery failure, if any (the engine stops on it).
    var failure: KafkaError? { state.withLock { $0.failure } }

    var unacknowledged: Int { state.withLock { $0.pending.values.reduce(0, +) } }

    private func settle(_ token: UInt, failure: KafkaError?) {
        let tokenEpoch = (UInt64(token) >> Self.timeBits) & Self.epochMask
        state.withLock { state in
            // The epoch whose low 24 bits match: the oldest outstanding one so numbered.
            let epoch = state.pending.keys.filter { $0 & Self.epochMask == tokenEpoch }.min() ?? tokenEpoch
            state.pending[epoch, default: 1] -= 1
            if let failure, state.failure == nil { state.failure = failure }
        }
    }
}
