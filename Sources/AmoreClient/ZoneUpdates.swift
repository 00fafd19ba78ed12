import AmoreCore
import Synchronization

/// A new version of a zone's ranking as the follower applied it: the published document
/// itself, so that a subscriber sees every version even when the board has moved on.
public struct ZoneUpdate: Sendable {
    public let zone: GeohashCell
    public let version: Int64
    public let asOf_ms: Int64
    /// The ranking's JSON exactly as published.
    public let document: [UInt8]
}

/// Who listens for which zone's new versions. The follower asks `hasSubscribers` (one
/// relaxed atomic load) before anything else, so a client nobody subscribes to pays
/// nothing per record.
final class ZoneUpdates: Sendable {
    private struct Listener {
        let zone: GeohashCell
        let continuation: AsyncStream<ZoneUpdate>.Continuation
    }

    private let listeners = Mutex<[Int: Listener]>([:])
    private let count = Atomic<Int>(0)
    private let nextID = Atomic<Int>(0)

    var hasSubscribers: Bool { count.load(ordering: .relaxed) > 0 }

    /// Every version of `zone` applied from now on, in order; ends when the consumer
    /// stops iterating or the follower stops. Buffers at most `buffer` versions for a
    /// slow reader (the oldest are dropped first).
    func stream(of zone: GeohashCell, buffer: Int = 64) -> AsyncStream<ZoneUpdate> {
        let (stream, continuation) = AsyncStream.makeStream(of: ZoneUpdate.self, bufferingPolicy: .bufferingNewest(buffer))
        let id = nextID.add(1, ordering: .relaxed).newValue
        listeners.withLock { $0[id] = Listener(zone: zone, continuation: continuation) }
        count.add(1, ordering: .relaxed)
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            if self.listeners.withLock({ $0.removeValue(forKey: id) }) != nil { self.count.subtract(1, ordering: .relaxed) }
        }
        return stream
    }

    func publish(_ update: ZoneUpdate) {
        let targets = listeners.withLock { $0.values.filter { $0.zone == update.zone }.map(\.continuation) }
        for continuation in targets { continuation.yield(update) }
    }

    func finishAll() {
        let all = listeners.withLock { listeners in
            defer { listeners.removeAll() }
            return listeners.values.map(\.continuation)
        }
        count.store(0, ordering: .relaxed)
        for continuation in all { continuation.finish() }
    }
}
