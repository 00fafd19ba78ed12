import Foundation
import ServiceLifecycle

/// A blocking loop (the engine, a producer feed, a terminal view) as a swift-service-lifecycle
/// `Service`: the loop runs on a thread of its own; graceful shutdown (SIGTERM/SIGINT
/// through the service group) calls `stop`, and so does cancelling the task (a service
/// group cancelling its services, a test's task group); `run` returns when the loop does.
public struct ThreadService: Service {
    public let name: String
    private let loop: @Sendable () throws -> Void
    private let stop: @Sendable () -> Void

    public init(name: String, run loop: @escaping @Sendable () throws -> Void, stop: @escaping @Sendable () -> Void) {
        self.name = name
        self.loop = loop
        self.stop = stop
    }

    public func run() async throws {
        let (name, loop) = (name, loop)
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                    let thread = Thread {
                        // Named from inside: on Linux only the current thread's name
                        // reaches the OS (`top -H`, gdb, /proc/PID/task/TID/comm).
                        Thread.current.name = name
                        do {
                            try loop()
                            continuation.resume()
                        } catch {
                            continuation.resume(throwing: error)
                        }
                    }
                    thread.start()
                }
            } onCancel: { [stop] in
                stop()
            }
        } onGracefulShutdown: { [stop] in
            stop()
        }
    }
}
