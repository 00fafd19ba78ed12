import CRdKafka
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A thread that serves a handle's callbacks (delivery reports, errors, logs) by
/// calling `rd_kafka_poll` until stopped, so that users never have to.
final class RDKafkaPollThread: Sendable {
    private let client: RDKafkaClient
    private let running = Atomic<Bool>(true)
    private let serving = Atomic<Bool>(false)
    private let exclusiveWaiters = Atomic<Int>(0)
    private let thread = Mutex<pthread_t?>(nil)

    static let batchingPause_us: useconds_t = 500
    /// How long an idle wait may hold the right to serve (a flush waits at most this).
    static let idleWait_ms: Int32 = 10

    init(client: RDKafkaClient) {
        self.client = client
        let box = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { argument in
            let poller = Unmanaged<RDKafkaPollThread>.fromOpaque(argument!).takeRetainedValue()
            poller.loop()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        thread.withLock { $0 = tid }
    }

    private func loop() {
        while running.load(ordering: .acquiring) {
            // Under load, serve what has accumulated, then let more accumulate for a
            // moment: one wake-up per batch of reports, not one per broker response,
            // keeps this thread off the cores the sender and the broker need.
            // When idle, block until the next event so sparse reports are prompt.
            // A flush waiting for exclusive serving goes first (else this loop, which
            // re-acquires at once, could starve it).
            if exclusiveWaiters.load(ordering: .acquiring) > 0 {
                usleep(Self.batchingPause_us)
                continue
            }
            let served = serve(timeout_ms: 0) ?? 0
            if served > 0 {
                usleep(Self.batchingPause_us)
            } else if serve(timeout_ms: Self.idleWait_ms) == nil {
                usleep(Self.batchingPause_us)  // a sender is serving right now
            }
        }
        // Serve what is left (reports of a final flush) without blocking.
        while serve(timeout_ms: 0) == nil { usleep(Self.batchingPause_us) }
    }

    /// Serves callbacks unless another thread is serving them; returns the number of
    /// events served, or nil if someone else holds the right to serve. Callbacks thus
    /// never run concurrently and stay in librdkafka's order.
    func serve(timeout_ms: Int32) -> Int32? {
        guard serving.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return nil }
        defer { serving.store(false, ordering: .releasing) }
        return rd_kafka_poll(client.handle, timeout_ms)
    }

    /// Runs `body` while no one else serves callbacks (for `rd_kafka_flush`, which
    /// serves them itself).
    func exclusively<R>(_ body: () throws -> R) rethrows -> R {
        exclusiveWaiters.add(1, ordering: .acquiringAndReleasing)
        defer { exclusiveWaiters.subtract(1, ordering: .acquiringAndReleasing) }
        while !serving.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            usleep(Self.batchingPause_us)
        }
        defer { serving.store(false, ordering: .releasing) }
        return try body()
    }

    /// Stops polling and waits for the thread; idempotent.
    func stop() {
        running.store(false, ordering: .releasing)
        if let tid = thread.withLock({ t -> pthread_t? in defer { t = nil }; return t }) {
            pthread_join(tid, nil)
        }
    }
}
