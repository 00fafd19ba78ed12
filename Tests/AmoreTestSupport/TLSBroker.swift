import AmoreKafka
import AmoreLocalBroker
import Foundation
import Logging

/// A broker that clients can reach only over TLS: Tansu on a loopback port, advertising an
/// stunnel endpoint in front of it (so that every connection after the first metadata goes
/// through TLS), with a certificate authority and a broker certificate made here by
/// openssl. The certificate names `localhost` only: reaching the same endpoint as
/// `127.0.0.1` must fail hostname verification.
public final class TLSBroker: @unchecked Sendable {
    // @unchecked: every property is set in init and never changed; stop() is idempotent.
    public let directory: URL
    /// The CA that signed the broker's certificate.
    public let caPath: String
    /// A CA that signed nothing here: trusting only it must fail verification.
    public let otherCAPath: String
    public let tlsPort: Int
    private let broker: LocalBroker
    private let stunnel: Process

    /// The TLS endpoint by the name its certificate carries.
    public var bootstrapServers: String { "localhost:\(tlsPort)" }
    /// The same endpoint by address, which the certificate does not name.
    public var bootstrapByAddress: String { "127.0.0.1:\(tlsPort)" }

    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// Librdkafka properties of a client that trusts `ca` (default: the right CA).
    public func properties(ca: String? = nil) -> [String: String] {
        ["security.protocol": "ssl", "ssl.ca.location": ca ?? caPath]
    }

    /// The same as `--kafka` flags.
    public func flags(ca: String? = nil) -> [String] {
        properties(ca: ca).sorted { $0.key < $1.key }.flatMap { ["--kafka", "\($0.key)=\($0.value)"] }
    }

    public init() throws {
        for tool in ["openssl", "stunnel4"] where Self.which(tool) == nil {
            throw Unavailable(description: "\(tool) is not installed; the TLS tests need it: run scripts/setup --test")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("amore-tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        caPath = directory.appendingPathComponent("ca.pem").path
        otherCAPath = directory.appendingPathComponent("other-ca.pem").path
        let key = directory.appendingPathComponent("broker.key").path
        let certificate = directory.appendingPathComponent("broker.pem").path
        let request = directory.appendingPathComponent("broker.csr").path
        let extensions = directory.appendingPathComponent("san.cnf").path
        try "subjectAltName=DNS:localhost\n".write(toFile: extensions, atomically: true, encoding: .utf8)
        let directoryPath = directory.path
        func openssl(_ arguments: [String]) throws {
            let (status, printed) = try Self.run("openssl", arguments, in: directoryPath)
            guard status == 0 else { throw Unavailable(description: "openssl \(arguments.first ?? "") failed: \(printed)") }
        }
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Amore Test CA",
                     "-keyout", "ca.key", "-out", caPath])
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Some Other CA",
                     "-keyout", "other-ca.key", "-out", otherCAPath])
        try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", key, "-out", request])
        try openssl(["x509", "-req", "-in", request, "-CA", caPath, "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                     "-extfile", extensions, "-out", certificate])

        tlsPort = try LocalBroker.freeLoopbackPort()
        var logger = Logger(label: "amore.tls-broker")
        logger.logLevel = .warning
        broker = try LocalBroker.start(logger: logger, advertising: ("localhost", tlsPort))
        let configuration = directory.appendingPathComponent("stunnel.conf")
        try """
            foreground = yes
            pid =
            debug = warning
            [kafka]
            accept = 127.0.0.1:\(tlsPort)
            connect = \(broker.bootstrapServers)
            cert = \(certificate)
            key = \(key)

            """.write(to: configuration, atomically: true, encoding: .utf8)
        stunnel = Process()
        stunnel.executableURL = URL(fileURLWithPath: Self.which("stunnel4")!)
        stunnel.arguments = [configuration.path]
        let log = directory.appendingPathComponent("stunnel.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        stunnel.standardOutput = try FileHandle(forWritingTo: log)
        stunnel.standardError = stunnel.standardOutput
        try stunnel.run()

        // Ready when a client that trusts the CA gets metadata through the TLS endpoint.
        var probeLogger = Logger(label: "amore.tls-broker.probe")
        probeLogger.logLevel = .critical
        let admin = try Admin(configuration: KafkaConfiguration(bootstrapServers: bootstrapServers, properties()), logger: probeLogger)
        let ready = eventually(timeout_s: 20) { (try? admin.describeCluster(timeout_ms: 500)) != nil || !stunnel.isRunning }
        guard ready, stunnel.isRunning else {
            let printed = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            stop()
            throw Unavailable(description: "the TLS endpoint did not answer: \(printed.suffix(1_000))")
        }
    }

    deinit { stop() }

    public func stop() {
        // KILL: a child of a test thread inherits its blocked signals, SIGTERM among them
        // (stunnel holds no state worth a graceful end).
        if stunnel.isRunning {
            kill(stunnel.processIdentifier, SIGKILL)
            _ = eventually(timeout_s: 5) { !stunnel.isRunning }
        }
        broker.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    static func which(_ tool: String) -> String? {
        for directory in ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin"] where FileManager.default.isExecutableFile(atPath: "\(directory)/\(tool)") {
            return "\(directory)/\(tool)"
        }
        return nil
    }

    static func run(_ tool: String, _ arguments: [String], in directory: String) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: which(tool) ?? tool)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
