import AmoreLocalBroker
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A local S3 API (moto's `moto_server`) with one bucket, so that a local broker's data
/// outlives the broker: `LocalBroker.start(storage: "s3://tansu/", environment: s3.brokerEnvironment)`.
public final class S3Server: @unchecked Sendable {
    // @unchecked: set in init, never changed.
    public let port: Int
    public let bucket = "tansu"
    private let process = Process()

    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// What Tansu needs to use it (object_store reads these variables).
    public var brokerEnvironment: [String: String] {
        ["AWS_ACCESS_KEY_ID": "amore-test", "AWS_SECRET_ACCESS_KEY": "amore-test", "AWS_DEFAULT_REGION": "us-east-1",
         "AWS_ENDPOINT": "http://127.0.0.1:\(port)", "AWS_ALLOW_HTTP": "true"]
    }

    public static let installedAt = ["/opt/amore-moto/bin/moto_server", "/usr/local/bin/moto_server"]

    public init() throws {
        guard let executable = Self.installedAt.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw Unavailable(description: "moto_server (a local S3 API) is not installed: run scripts/setup --test")
        }
        port = try LocalBroker.freeLoopbackPort()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-H", "127.0.0.1", "-p", String(port)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Ready when the bucket can be made (PUT /bucket creates it).
        let created = eventually(timeout_s: 30) { Self.request("PUT", "http://127.0.0.1:\(port)/\(bucket)") == 200 || !process.isRunning }
        guard created, process.isRunning else {
            throw Unavailable(description: "moto_server did not start on port \(port)")
        }
    }

    deinit {
        // KILL: a child of a test thread inherits its blocked signals, SIGTERM among them.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    static func request(_ method: String, _ url: String) -> Int {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.timeoutInterval = 2
        let done = DispatchSemaphore(value: 0)
        let status = Locked(0)
        URLSession.shared.dataTask(with: request) { _, response, _ in
            status.withLock { $0 = (response as? HTTPURLResponse)?.statusCode ?? 0 }
            done.signal()
        }.resume()
        done.wait()
        return status.value
    }
}
