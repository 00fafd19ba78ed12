import Foundation
import ServiceLifecycle

/// The engine as a swift-service-lifecycle `Service`: its blocking loop runs on a thread
/// of its own; graceful shutdown (SIGTERM/SIGINT through the service group) asks it to
/// stop, and `run` returns once it has published, flushed, committed and left the group.
public struct EngineService: Service {
    public let engine: Engine

    public init(engine: Engine) {
        self.engine = engine
    }

    public func run() async throws {
        let engine = engine
        try await withGracefulShutdownHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                let thread = Thread {
                    do {
                        try engine.run()
                        continuation.resume()
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
                thread.name = "amore-engine"
                thread.start()
            }
        } onGracefulShutdown: {
            engine.stop()
        }
    }
}
