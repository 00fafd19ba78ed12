import AmoreLocalBroker
import Foundation

/// Tests/Tools/stall_proxy.py as a test's tool: a TCP proxy in front of a broker that goes
/// silent on `stall()` (no reads, no writes, no resets: a hung broker or a partition, as a
/// client sees one) and flows again on `resume()`.
public final class StallProxy: @unchecked Sendable {
    // @unchecked: set in init; the output file is only read.
    public let port: Int
    private let process = Process()
    private let output: URL

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// - Parameters:
    ///   - target: `host:port` of what it forwards to.
    ///   - port: the port to listen on (a broker must advertise it).
    public init(target: String, port: Int) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tools/stall_proxy.py").path
        output = FileManager.default.temporaryDirectory.appendingPathComponent("amore-proxy-\(UUID().uuidString.prefix(8)).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, target, String(port)]
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = process.standardOutput
        try process.run()
        self.port = port
        guard eventually(timeout_s: 10, { printed.contains("PROXY_PORT=") || !process.isRunning }), process.isRunning else {
            throw Failure(description: "the stall proxy did not start: \(printed)")
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: output)
    }

    private var printed: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    /// Every connection goes silent; returns once the proxy says so.
    public func stall() throws { try signal(SIGUSR1, until: "STALLED") }

    /// Everything held flows on; returns once the proxy says so.
    public func resume() throws { try signal(SIGUSR2, until: "FLOWING") }

    private func signal(_ number: Int32, until line: String) throws {
        let before = printed.components(separatedBy: line).count
        kill(process.processIdentifier, number)
        guard eventually(timeout_s: 5, { printed.components(separatedBy: line).count > before }) else {
            throw Failure(description: "the stall proxy did not report \(line): \(printed.suffix(500))")
        }
    }
}

/// A local broker that clients reach through a `StallProxy`: it advertises the proxy's
/// port, so every connection after the first metadata request goes through the proxy.
/// `servers` is the proxy's address; `broker.bootstrapServers` the broker's own.
public final class ProxiedBroker: @unchecked Sendable {
    // @unchecked: set in init, never changed.
    public let broker: LocalBroker
    public let proxy: StallProxy
    /// The address clients use: the proxy.
    public var servers: String { "127.0.0.1:\(proxy.port)" }

    public init() throws {
        let proxyPort = try LocalBroker.freeLoopbackPort()
        broker = try LocalBroker.start(advertising: ("127.0.0.1", proxyPort))
        do {
            proxy = try StallProxy(target: broker.bootstrapServers, port: proxyPort)
        } catch {
            broker.stop()
            throw error
        }
    }

    deinit { broker.stop() }
}
