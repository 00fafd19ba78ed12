import AmoreCore
import AmoreKafka
import AmoreTestSupport
import Foundation
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `amore serve` as the API tier runs it, on the real broker, against a rankings topic
/// this test writes itself (so every version is known).
@Suite(.serialized) struct ServeTests {
    /// A synthetic rankings history, worked out beside the test: `zones` zones, `versions`
    /// versions each, one a minute of as-of (and record) time, the newest `now_ms` − 30 s;
    /// version k of zone z has one entry whose delivery ETA is 600 + k seconds. The
    /// newest of every zone is within the last heartbeat, so a server reading the last
    /// two heartbeats (plus 15 s margin: 135 s) reads versions k ≥ versions − 2 or 3 of
    /// each zone, about 3/20 of the topic.
    struct History {
        let topic: String
        let zones: [GeohashCell]
        let versions: Int
        let now_ms: Int64

        func asOf_ms(version k: Int) -> Int64 { now_ms - 30_000 - Int64(versions - k) * 60_000 }

        static func ranking(zone: GeohashCell, version: Int64, asOf_ms: Int64, eta_s: Int32) -> ZoneRanking {
            let travel = eta_s - 420 - 120
            return ZoneRanking(zoneID: zone.description, marketID: "austin", version: version, asOf_ms: asOf_ms, entries: [
                RankingEntry(restaurantID: "r-1", deliveryETA_s: eta_s, queueWait_s: 60, prep_s: 360, courierArrival_s: 200,
                             handoff_s: 120, travel_s: travel, carryOutReady_s: 420, styles: .neapolitan, confidence: .high),
            ])
        }

        /// Writes versions 1...versions of every zone, oldest first, CreateTime = as-of.
        func write(servers: String) throws {
            let producer = try Producer(configuration: KafkaConfiguration(bootstrapServers: servers, ["linger.ms": "5"]))
            for k in 1...versions {
                for zone in zones {
                    try send(producer, zone: zone, version: Int64(k), asOf_ms: asOf_ms(version: k), eta_s: 600 + Int32(k))
                }
            }
            try producer.flush(timeout_ms: 30_000)
        }

        func send(_ producer: Producer, zone: GeohashCell, version: Int64, asOf_ms: Int64, eta_s: Int32) throws {
            try producer.send(to: topic, key: Array(zone.description.utf8),
                              value: OutputEncoder.encode(Self.ranking(zone: zone, version: version, asOf_ms: asOf_ms, eta_s: eta_s)),
                              timestamp_ms: asOf_ms)
        }
    }

    static func history(_ name: String, zones count: Int, versions: Int, servers: String) throws -> History {
        let topic = "\(name)-\(UUID().uuidString.prefix(8).lowercased()).rankings"
        let admin = try TestBroker.admin(servers)
        try admin.createTopics([NewTopic(topic, partitions: 4)])
        _ = try admin.waitForTopics([topic], minimumPartitions: 4)
        // Distinct precision-6 cells around Austin.
        let zones = (0..<count).map { GeohashCell(lat_deg: 30.0 + Double($0 / 100) * 0.006, lon_deg: -97.9 + Double($0 % 100) * 0.011, precision: 6) }
        #expect(Set(zones).count == count)
        let history = History(topic: topic, zones: zones, versions: versions, now_ms: Int64(Date().timeIntervalSince1970 * 1_000))
        try history.write(servers: servers)
        return history
    }

    @Test func aNewServerReadsOnlyTheTailAndHoldsTheNewestVersionOfEveryZone() throws {
        let servers = try TestBroker.bootstrapServers()
        let history = try Self.history("serve-boot", zones: 400, versions: 20, servers: servers)
        let serve = try ServeProcess(servers: servers, topic: history.topic)
        #expect(serve.waitUntilReady(), "\(serve.logTail())")

        // Every zone at its newest version (20) with that version's ETA: what a full read gives.
        var wrong: [String] = []
        for zone in history.zones {
            let (status, body, headers) = serve.get("/v1/zones/\(zone)/rankings")
            let json = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
            let eta = ((json?["entries"] as? [[String: Any]])?.first?["delivery_eta_s"] as? Int) ?? -1
            if status != 200 || json?["version"] as? Int != 20 || eta != 620 || headers["amore-version"] != "20" {
                wrong.append("\(zone): \(status) v\(json?["version"] ?? "-") eta \(eta)")
            }
        }
        #expect(wrong.isEmpty, "\(wrong.count) zones wrong: \(wrong.prefix(5))")
        // Read only the tail: versions 18-20 of 400 zones is 1,200 of 8,000 records, plus
        // the search's probes (a fetch of at most a batch per probe).
        let metrics = serve.metrics()
        let read = metrics["amore_serve_bootstrap_records"] ?? -1
        #expect(read > 0 && read < 0.35 * 8_000, "bootstrap read \(read) of 8,000 records: \(serve.logTail(5))")
        #expect(metrics["amore_serve_zones_count"] == 400)
    }

    @Test func withItsTokenAClientNeverSeesAZoneGoBackAcrossTwoServersOneHeldBehind() throws {
        let servers = try TestBroker.bootstrapServers()
        let history = try Self.history("serve-consistency", zones: 20, versions: 3, servers: servers)
        let fresh = try ServeProcess(servers: servers, topic: history.topic)
        let held = try ServeProcess(servers: servers, topic: history.topic, extra: ["--max-ready-lag", "10"])
        #expect(fresh.waitUntilReady() && held.waitUntilReady(), "\(fresh.logTail())\n\(held.logTail())")
        let zone = history.zones[0]
        #expect(held.post("/follow/pause") == 200)

        // Versions 4...30 of zone 0 (and of zone 1, so the held server falls > 10 records
        // behind), a record per batch: the local broker reports a partition's end as its
        // last batch's first offset + 1, and a paused server learns its lag from that.
        let producer = try Producer(configuration: KafkaConfiguration(bootstrapServers: servers, ["linger.ms": "0"]))
        for k in 4...30 {
            for target in history.zones.prefix(2) {
                try history.send(producer, zone: target, version: Int64(k), asOf_ms: history.now_ms + Int64(k) * 1_000, eta_s: 600 + Int32(k))
                try producer.flush(timeout_ms: 10_000)
            }
        }
        #expect(eventually(timeout_s: 20) { fresh.version(of: zone).version == 30 }, "the fresh server follows")
        #expect(eventually(timeout_s: 20) { held.get("/readyz").status == 503 }, "the held server says it is behind")
        #expect(held.get("/readyz", ops: true).body.contains("records behind"))

        // Without a token: the held server answers what it has (bounded by its readiness).
        #expect(held.version(of: zone).version == 3)
        // With it: alternate servers, sending back the highest version seen.
        var seen: Int64 = 0
        var answers: [String] = []
        for round in 0..<6 {
            let server = round % 2 == 0 ? fresh : held
            let answer = server.version(of: zone, minVersion: seen)
            answers.append("\(answer.status):\(answer.version)")
            if answer.status == 200 {
                #expect(answer.version >= seen, "version went back: \(answers)")
                seen = max(seen, answer.version)
            } else {
                #expect(answer.status == 503 && answer.retryAfter == "1", "\(answers)")
            }
        }
        #expect(answers == ["200:30", "503:3", "200:30", "503:3", "200:30", "503:3"], "\(answers)")

        // Resumed, it catches up and answers the token.
        #expect(held.post("/follow/resume") == 200)
        #expect(eventually(timeout_s: 20) { held.version(of: zone, minVersion: 30).status == 200 })
        #expect(eventually(timeout_s: 20) { held.get("/readyz", ops: true).status == 200 })
    }

    @Test func etagsStreamsAndBadParameters() throws {
        let servers = try TestBroker.bootstrapServers()
        let history = try Self.history("serve-http", zones: 5, versions: 2, servers: servers)
        let serve = try ServeProcess(servers: servers, topic: history.topic)
        #expect(serve.waitUntilReady(), "\(serve.logTail())")
        let zone = history.zones[0]

        // 304 while the ETag (the version) holds.
        let first = serve.get("/v1/zones/\(zone)/rankings")
        #expect(first.status == 200 && first.headers["etag"] == "\"2\"" && first.headers["cache-control"] == "public, max-age=1")
        #expect(serve.get("/v1/zones/\(zone)/rankings", headers: ["If-None-Match": "\"2\""]).status == 304)
        #expect(serve.get("/v1/zones/\(zone)/rankings", headers: ["If-None-Match": "\"1\""]).status == 200)

        // The stream: the current version, then every new one, in order.
        let stream = try EventStream(url: "http://\(serve.http)/v1/zones/\(zone)/stream")
        #expect(eventually(timeout_s: 10) { stream.versions() == [2] }, "\(stream.text())")
        let producer = try Producer(configuration: KafkaConfiguration(bootstrapServers: servers, ["linger.ms": "0"]))
        for k in 3...12 {
            try history.send(producer, zone: zone, version: Int64(k), asOf_ms: history.now_ms + Int64(k) * 1_000, eta_s: 600 + Int32(k))
            try history.send(producer, zone: history.zones[1], version: Int64(k), asOf_ms: history.now_ms + Int64(k) * 1_000, eta_s: 600)
        }
        try producer.flush(timeout_ms: 10_000)
        #expect(eventually(timeout_s: 15) { stream.versions().count == 11 }, "\(stream.text().suffix(500))")
        #expect(stream.versions() == Array(2...12), "every version of this zone, in order, none of another")
        #expect(serve.get("/v1/zones/\(zone)/rankings", headers: ["If-None-Match": "\"2\""]).status == 200)

        for (path, parameter) in [("/v1/zones/\(zone)/rankings?min_version=soon", "min_version"),
                                  ("/v1/zones/\(zone)/rankings?min_version=-1", "min_version"),
                                  ("/v1/zones/9v6kpa/rankings", "zone"), ("/v1/zones/9v6kpa/stream", "zone"),
                                  ("/v1/rankings?lat=91&lon=0", "lat"), ("/v1/zones/\(zone)/rankings?limit=0", "limit")] {
            let answer = serve.get(path)
            let json = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8))) as? [String: Any]
            #expect(answer.status == 400 && json?["parameter"] as? String == parameter, "\(path): \(answer.status) \(answer.body)")
        }
    }
}

extension ServeTests {
    /// The OpenAPI document is the contract: schemathesis (PyPI, installed by
    /// `scripts/setup --test`) generates requests from it against a running server and
    /// checks every answer against it. The stream is left out (it never ends); its order
    /// is tested above. A 503 is a documented answer (min_version not reached), so the
    /// "no 5xx" check is off; any other 5xx would still fail status-code conformance.
    @Test func schemathesisFindsNoFailureAgainstTheOpenAPIContract() throws {
        let tool = "/opt/amore-schemathesis/bin/schemathesis"
        guard FileManager.default.isExecutableFile(atPath: tool) else {
            Issue.record("\(tool) is missing: run scripts/setup --test")
            return
        }
        let servers = try TestBroker.bootstrapServers()
        let history = try Self.history("serve-contract", zones: 30, versions: 2, servers: servers)
        let serve = try ServeProcess(servers: servers, topic: history.topic, extra: ["--min-version-wait-ms", "20"])
        #expect(serve.waitUntilReady(), "\(serve.logTail())")
        let contract = MapBrowserTests.packageRoot.appendingPathComponent("openapi/amore-serve.yaml").path
        let (status, printed) = try runTool(tool, [
            "run", contract, "--url", "http://\(serve.http)", "--exclude-operation-id", "zoneStream", "--checks", "all",
            "--exclude-checks", "not_a_server_error", "--max-examples", "40", "--request-timeout", "5", "--generation-deterministic",
        ], timeout_s: 300)
        #expect(status == 0, "schemathesis: \(printed.suffix(4_000))")
        #expect(printed.contains("Tested: 6"), "every operation but the stream was tested: \(printed.suffix(1_500))")
    }
}

/// `amore serve` as a separate process, on ports it picks.
final class ServeProcess {
    let process = Process()
    let output: URL
    let log: URL
    private(set) var http = ""
    private(set) var ops = ""

    init(servers: String, topic: String, extra: [String] = [], environment added: [String: String] = [:]) throws {
        let id = UUID().uuidString.prefix(8)
        output = FileManager.default.temporaryDirectory.appendingPathComponent("amore-serve-\(id).out")
        log = FileManager.default.temporaryDirectory.appendingPathComponent("amore-serve-\(id).log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = EngineProcess.binary
        process.arguments = ["serve", "--brokers", servers, "--rankings-topic", topic, "--http", "127.0.0.1:0",
                             "--ops-http", "127.0.0.1:0"] + extra
        if !added.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(added) { _, given in given } }
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        let found = eventually(timeout_s: 30) {
            let lines = ((try? String(contentsOf: output, encoding: .utf8)) ?? "").split(separator: "\n")
            http = lines.first { $0.hasPrefix("AMORE_HTTP=") }.map { String($0.dropFirst("AMORE_HTTP=".count)) } ?? ""
            ops = lines.first { $0.hasPrefix("AMORE_OPS_HTTP=") }.map { String($0.dropFirst("AMORE_OPS_HTTP=".count)) } ?? ""
            return (!http.isEmpty && !ops.isEmpty) || !process.isRunning
        }
        guard found, !http.isEmpty else { throw EngineProcess.Failure(description: "amore serve did not start: \(logTail())") }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            if !eventually(timeout_s: 10, { !process.isRunning }) { kill(process.processIdentifier, SIGKILL) }
        }
        try? FileManager.default.removeItem(at: output)
        try? FileManager.default.removeItem(at: log)
    }

    func logTail(_ lines: Int = 20) -> String {
        ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    func waitUntilReady(timeout_s: Double = 30) -> Bool {
        eventually(timeout_s: timeout_s) { get("/readyz", ops: true).status == 200 }
    }

    /// GET on the query port (or the operations port for /healthz, /readyz, /metrics).
    func get(_ path: String, ops: Bool? = nil, headers: [String: String] = [:]) -> (status: Int, body: String, headers: [String: String]) {
        let onOps = ops ?? ["/healthz", "/readyz", "/metrics"].contains(path)
        return request("GET", "http://\(onOps ? self.ops : http)\(path)", headers: headers)
    }

    func post(_ path: String) -> Int { request("POST", "http://\(ops)\(path)", headers: [:]).status }

    /// The zone's version as answered (0 when not 200), the status and Retry-After.
    func version(of zone: GeohashCell, minVersion: Int64? = nil) -> (status: Int, version: Int64, retryAfter: String?) {
        let answer = get("/v1/zones/\(zone)/rankings" + (minVersion.map { "?min_version=\($0)" } ?? ""))
        // The body's version when 200; else the header's (what the server holds).
        let json = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8))) as? [String: Any]
        let version = (json?["version"] as? Int).map(Int64.init) ?? answer.headers["amore-version"].flatMap { Int64($0) } ?? 0
        return (answer.status, version, answer.headers["retry-after"])
    }

    func metrics() -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in get("/metrics").body.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Double(parts[1]) { samples[String(parts[0])] = value }
        }
        return samples
    }

    private func request(_ method: String, _ url: String, headers: [String: String]) -> (status: Int, body: String, headers: [String: String]) {
        let done = DispatchSemaphore(value: 0)
        let result = Locked<(Int, String, [String: String])>((0, "", [:]))
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.timeoutInterval = 5
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        URLSession.shared.dataTask(with: request) { data, response, _ in
            let http = response as? HTTPURLResponse
            var fields: [String: String] = [:]
            for (name, value) in http?.allHeaderFields ?? [:] { fields["\(name)".lowercased()] = "\(value)" }
            result.withLock { $0 = (http?.statusCode ?? 0, data.map { String(decoding: $0, as: UTF8.self) } ?? "", fields) }
            done.signal()
        }.resume()
        done.wait()
        return result.value
    }
}

/// A server-sent event stream read by curl (a real HTTP client, no buffering: -N).
final class EventStream {
    let process = Process()
    let file: URL

    init(url: String) throws {
        file = FileManager.default.temporaryDirectory.appendingPathComponent("sse-\(UUID().uuidString.prefix(8)).txt")
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sN", "--max-time", "60", url]
        process.standardOutput = try FileHandle(forWritingTo: file)
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: file)
    }

    func text() -> String { (try? String(contentsOf: file, encoding: .utf8)) ?? "" }

    /// The `id:` of every complete event so far.
    func versions() -> [Int64] {
        text().components(separatedBy: "\n\n").filter { $0.contains("\ndata: {") }.compactMap { event in
            event.split(separator: "\n").first { $0.hasPrefix("id: ") }.flatMap { Int64($0.dropFirst(4)) }
        }
    }
}
