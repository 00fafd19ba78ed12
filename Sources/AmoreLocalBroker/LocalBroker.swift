import AmoreKafka
import Foundation
import Logging

/// A Kafka-protocol broker (Tansu, in-memory storage) on a free loopback port, for a
/// newcomer's first run and for tests. Production points at a real cluster instead.
///
/// The broker runs under a small shell watchdog that reads our end of a pipe: when this
/// process exits for any reason, even SIGKILL, the pipe closes and the broker is stopped,
/// so no broker outlives its owner.
public final class LocalBroker: @unchecked Sendable {
    // @unchecked: the mutable state (process, pipe) is only touched under `lock`.
    public let bootstrapServers: String
    public let port: Int
    public let logPath: String
    /// Started with `--authentication`: clients must authenticate (SASL/SCRAM).
    public let requiresAuthentication: Bool
    private let lock = NSLock()
    private var process: Process?
    private var watchdog: Pipe?

    /// The Tansu executable: `$AMORE_TANSU`, else `tansu` on the PATH (scripts/setup puts it there).
    public static func tansuExecutable() throws -> String {
        if let configured = ProcessInfo.processInfo.environment["AMORE_TANSU"], !configured.isEmpty {
            return configured
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/tansu"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw LocalBrokerError.notInstalled
    }

    /// Starts a broker and returns once it answers a Metadata request.
    /// - Parameter advertising: the address the broker gives clients in metadata, when
    ///   they must reach it through something in front of it (a TLS terminator, a test
    ///   proxy) rather than directly; the broker answers the first request on its own port.
    ///   - port: a port of the caller's choice (a broker restarted where its clients expect it).
    ///   - storage: Tansu's storage engine; `s3://bucket/` (with `environment` naming the S3
    ///     endpoint and credentials) keeps the data across a restart, memory does not.
    public static func start(logger: Logger = Logger(label: "amore.broker"), readyTimeout_s: Double = 20,
                             advertising: (host: String, port: Int)? = nil, port fixedPort: Int? = nil,
                             storage: String = "memory://tansu/", environment: [String: String] = [:],
                             authentication: Bool = false) throws -> LocalBroker {
        let executable = try tansuExecutable()
        var lastFailure = ""
        // A free port can be taken between probing and binding; try a few.
        for _ in 0..<(fixedPort == nil ? 3 : 1) {
            let port = try fixedPort ?? freeLoopbackPort()
            let broker = try LocalBroker(executable: executable, port: port,
                                         advertised: advertising.map { "tcp://\($0.host):\($0.port)" } ?? "tcp://127.0.0.1:\(port)",
                                         storage: storage, environment: environment, authentication: authentication)
            do {
                try broker.waitUntilReady(timeout_s: readyTimeout_s)
                logger.info("local broker ready", metadata: ["bootstrap": "\(broker.bootstrapServers)", "log": "\(broker.logPath)"])
                return broker
            } catch {
                lastFailure = "\(error)"
                broker.stop()
            }
        }
        throw LocalBrokerError.notReady(lastFailure)
    }

    private init(executable: String, port: Int, advertised: String, storage: String, environment: [String: String],
                 authentication: Bool) throws {
        self.requiresAuthentication = authentication
        self.port = port
        bootstrapServers = "127.0.0.1:\(port)"
        logPath = "\(NSTemporaryDirectory())amore-broker-\(port).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let url = "tcp://127.0.0.1:\(port)"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // $0 is tansu; the shell waits for EOF on stdin (our pipe), then stops it.
        process.arguments = ["-c", Self.watchdogScript,
                             executable, "broker", "--listener-url", url, "--advertised-listener-url", advertised,
                             "--storage-engine", storage] + (authentication ? ["--authentication"] : [])
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, given in given } }
        let watchdog = Pipe()
        // Only this process may hold the write end: a child that inherited it (an `amore`
        // a test spawns) would keep the watchdog from seeing EOF after `stop`.
        _ = fcntl(watchdog.fileHandleForWriting.fileDescriptor, F_SETFD, FD_CLOEXEC)
        process.standardInput = watchdog
        process.standardOutput = log
        process.standardError = log
        try process.run()
        self.process = process
        self.watchdog = watchdog
    }

    deinit { stop() }

    /// Runs `$0 $@` (the broker) until stdin reaches EOF or the shell gets TERM/INT, then
    /// stops it: TERM, and KILL after 2 s (Tansu waits for open connections on TERM;
    /// memory storage has nothing to save).
    private static let watchdogScript = """
        "$0" "$@" </dev/null &
        child=$!
        finish() {
          kill -TERM "$child" 2>/dev/null
          i=0
          while kill -0 "$child" 2>/dev/null && [ "$i" -lt 20 ]; do sleep 0.1; i=$((i+1)); done
          kill -KILL "$child" 2>/dev/null
          wait "$child" 2>/dev/null
          exit 0
        }
        trap finish TERM INT
        cat >/dev/null
        finish
        """

    private func waitUntilReady(timeout_s: Double) throws {
        var probeLogger = Logger(label: "amore.broker.probe")
        probeLogger.logLevel = .critical  // connection refused is expected while it starts
        let admin = try Admin(configuration: KafkaConfiguration(bootstrapServers: bootstrapServers, [
            "reconnect.backoff.ms": "20", "reconnect.backoff.max.ms": "100",
        ]), logger: probeLogger)
        let deadline = Date().addingTimeInterval(timeout_s)
        var lastError = "no answer"
        while Date() < deadline {
            guard isRunning else {
                throw LocalBrokerError.exited(lastLogLines())
            }
            do {
                // An authenticating broker answers no unauthenticated request: a listening
                // port is all that can be checked without credentials.
                if requiresAuthentication {
                    if Self.accepts(port: port) { return }
                    throw LocalBrokerError.notReady("port \(port) not listening yet")
                }
                _ = try admin.describeCluster(timeout_ms: 500)
                return
            } catch {
                lastError = "\(error)"
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        throw LocalBrokerError.notReady("no Metadata answer from \(bootstrapServers) in \(timeout_s) s: \(lastError)")
    }

    public var isRunning: Bool { lock.withLock { process?.isRunning ?? false } }

    /// Stops the broker and waits for it to exit (at most ~5 s, then kills it). Idempotent.
    public func stop() {
        let (process, watchdog) = lock.withLock { () -> (Process?, Pipe?) in
            defer { self.process = nil; self.watchdog = nil }
            return (self.process, self.watchdog)
        }
        guard let process else { return }
        try? watchdog?.fileHandleForWriting.close()
        // The watchdog needs at most ~2 s. If it has not seen EOF by 5 s, TERM makes it stop
        // the broker all the same; KILL is the last resort (it would leave the broker behind).
        func exited(within seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            return !process.isRunning
        }
        if exited(within: 5) { return }
        kill(process.processIdentifier, SIGTERM)
        if exited(within: 5) { return }
        kill(process.processIdentifier, SIGKILL)
    }

    private func lastLogLines() -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(5).joined(separator: "\n")
    }

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// A loopback port nothing listens on now (it may be taken before it is bound).
    public static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LocalBrokerError.noPort(errno) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
            }
        }
        guard bound else { throw LocalBrokerError.noPort(errno) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

public enum LocalBrokerError: Error, CustomStringConvertible {
    case notInstalled
    case noPort(Int32)
    case exited(String)
    case notReady(String)

    public var description: String {
        switch self {
        case .notInstalled: "the Tansu broker is not installed (no `tansu` on PATH, AMORE_TANSU unset): run scripts/setup"
        case .noPort(let errno): "no free loopback port (errno \(errno))"
        case .exited(let log): "the broker exited during start-up; its log ends with:\n\(log)"
        case .notReady(let why): "the broker did not become ready: \(why)"
        }
    }
}
