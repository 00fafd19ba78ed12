import AmoreCore
import AmoreKafka
import AmoreSimulation
import AmoreTestSupport
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// Bad load: a flood in which every tenth record is broken (truncated JSON, documents over
/// the 64 KB limit, bytes that are not UTF-8, nesting too deep, a key for another market),
/// and an HTTP client that opens thousands of connections and sends oversized requests.
/// The engine dead-letters every broken record, keeps publishing, keeps its memory near a
/// clean run's of the same size, and its HTTP endpoint answers or refuses cleanly.
///
/// CI floods 100,000 records; `AMORE_KAFKA=fetch.wait.max.ms=500 AMORE_FLOOD_RECORDS=1000000
/// AMORE_FLOOD_PARTITIONS=16 ./test --filter BadLoadTests` is the full run whose figures
/// docs/testing.md reports (the local broker answers fetches of a partition that large
/// empty within the engine's default 5 ms wait).
@Suite struct BadLoadTests {
    static let records = Int(ProcessInfo.processInfo.environment["AMORE_FLOOD_RECORDS"] ?? "") ?? 100_000
    /// Partitions of the input topics (one market, so its records share one of them).
    static let partitions = Int32(ProcessInfo.processInfo.environment["AMORE_FLOOD_PARTITIONS"] ?? "") ?? 4

    /// One broken record of each kind, in turn; (value, key, the reason the engine must give).
    static func broken(_ index: Int, of ping: CourierPing) -> (value: [UInt8], key: String, reason: EventRejection.Reason) {
        let valid = EventEncoder.encode(ping)
        let market = ping.marketID.description
        switch index % 5 {
        case 0: return (Array(valid.prefix(valid.count / 2)), market, .malformedJSON)
        case 1:
            // Over the limit: a valid ping with a 70 KB field appended.
            var text = String(decoding: valid.dropLast(), as: UTF8.self)
            text += #","padding":""# + String(repeating: "x", count: 70 * 1_024) + #""}"#
            return (Array(text.utf8), market, .documentTooLarge)
        case 2: return ([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D], market, .invalidUTF8)  // {"\xff\xfe":1}
        case 3: return (Array((String(repeating: #"{"a":"#, count: 200) + "1" + String(repeating: "}", count: 200)).utf8), market, .tooDeep)
        default: return (valid, "atlantis", .keyMismatch)
        }
    }

    /// Writes `count` courier pings and orders of one busy market, every tenth replaced by
    /// a broken record when `flood`; returns the broken records' count per reason.
    static func write(_ input: InputWriter, count: Int, flood: Bool) throws -> [EventRejection.Reason: Int] {
        var settings = MarketSimulator.Settings()
        settings.city = .austin
        settings.restaurants = 200
        settings.couriers = 4_000
        settings.seed = 11
        var simulator = MarketSimulator(settings: settings)
        for profile in simulator.profiles { try input.send(profile) }
        var written = 0
        var brokenCount: [EventRejection.Reason: Int] = [:]
        while written < count {
            for event in simulator.record(duration_ms: 10_000) where written < count {
                written += 1
                switch event {
                case .order(let order): try input.send(order)
                case .ping(let ping):
                    if flood && written % 10 == 0 {
                        let bad = broken(written / 10, of: ping)
                        try input.sendRaw(input.topics.couriers, key: bad.key, value: bad.value, timestamp_ms: ping.eventTime_ms)
                        brokenCount[bad.reason, default: 0] += 1
                    } else {
                        try input.send(ping)
                    }
                }
            }
        }
        try input.flush()
        return brokenCount
    }

    /// The engine's peak resident memory so far (VmHWM), in MB.
    static func peakResident_MB(_ engine: EngineProcess) -> Double {
        let status = (try? String(contentsOfFile: "/proc/\(engine.process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Double(line.split(separator: " ").dropFirst().first ?? "") ?? 0) / 1_024
    }

    @Test func aFloodOfBrokenRecordsIsDeadLetteredWithoutStoppingTheEngineOrGrowingItsMemory() throws {
        let servers = try TestBroker.bootstrapServers()
        var peaks: [Bool: Double] = [:]
        for flood in [false, true] {
            let topics = TestTopics(flood ? "flood" : "flood-clean")
            try topics.createInputs(servers: servers, partitions: Self.partitions)
            let broken = try Self.write(try InputWriter(servers: servers, topics: topics), count: Self.records, flood: flood)
            let engine = try EngineProcess(servers: servers, topics: topics)
            #expect(engine.waitUntilCaughtUp(expectedRecords: Self.records, timeout_s: 600), "\(engine.logTail())")
            let samples = engine.metrics()
            #expect(engine.sum(samples, "amore_publications_total") > 0, "the engine published")
            let expectedBroken = broken.values.reduce(0, +)
            #expect(engine.sum(samples, "amore_rejected_records_total") == Double(expectedBroken))
            for (reason, count) in broken {
                #expect(engine.sum(samples, "amore_rejected_records_total", ["reason=\"\(reason.rawValue)\""]) == Double(count),
                        "\(reason.rawValue)")
            }
            #expect(eventually(timeout_s: 60) { engine.sum(engine.metrics(), "amore_dead_letters_total") == Double(expectedBroken) },
                    "every broken record is dead-lettered")
            peaks[flood] = Self.peakResident_MB(engine)
            if flood { try Self.expectHTTPSurvivesAbuse(engine) }
            #expect(engine.terminate() == 0, "\(engine.logTail())")
        }
        let clean = peaks[false] ?? 0, flooded = peaks[true] ?? 0
        print("bad load: \(Self.records) records, 10 % broken: engine peak resident \(Int(flooded)) MB; clean run of the same size \(Int(clean)) MB (\(String(format: "%.2f", flooded / max(clean, 1)))x)")
        // Broken records are refused before they reach the model: the flood may cost the
        // dead letters in flight, not memory that grows with the input.
        #expect(flooded < clean * 1.5 + 100, "flood \(flooded) MB against clean \(clean) MB")
    }

    /// 2,000 idle connections, then an oversized body and an oversized header: refused or
    /// closed, never a crash; the endpoint answers a normal request after each.
    static func expectHTTPSurvivesAbuse(_ engine: EngineProcess) throws {
        let parts = engine.http.split(separator: ":")
        let port = UInt16(parts.last ?? "") ?? 0
        var sockets: [Int32] = []
        defer { for fd in sockets { close(fd) } }
        for _ in 0..<2_000 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = port.bigEndian
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            if connected { sockets.append(fd) } else { close(fd) }
        }
        #expect(sockets.count > 1_500, "\(sockets.count) connections opened")
        #expect(engine.get("/healthz").status == 200, "answers while 2,000 connections sit idle")

        let body = try send(port: port, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 20000000\r\n\r\n"
                                + String(repeating: "x", count: 1_000_000))
        #expect(body == nil || !body!.hasPrefix("HTTP/1.1 5"), "an oversized body is refused, not an error: \(body ?? "closed")")
        let header = try send(port: port, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "y", count: 200_000))\r\n\r\n")
        #expect(header == nil || !header!.hasPrefix("HTTP/1.1 5"), "an oversized header is refused, not an error: \(header ?? "closed")")
        #expect(engine.get("/healthz").status == 200, "answers after the oversized requests")
        #expect(engine.process.isRunning)
    }

    /// Sends raw bytes and returns the status line of the answer, or nil when the server closed the connection.
    static func send(port: UInt16, _ request: String) throws -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }  // the server stopped reading: a refusal
            sent += n
        }
        var buffer = [UInt8](repeating: 0, count: 4_096)
        let n = recv(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return String(decoding: buffer[..<n], as: UTF8.self).split(separator: "\r\n").first.map(String.init)
    }
}
