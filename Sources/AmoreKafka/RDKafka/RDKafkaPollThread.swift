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
    private let thread = Mutex<pthread_t?>(nil)

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
            rd_kafka_poll(client.handle, 100)
        }
        // Serve what is left (reports of a final flush) without blocking.
        rd_kafka_poll(client.handle, 0)
    }

    /// Stops polling and waits for the thread; idempotent.
    func stop() {
        running.store(false, ordering: .releasing)
        if let tid = thread.withLock({ t -> pthread_t? in defer { t = nil }; return t }) {
            pthread_join(tid, nil)
        }
    }
}
