import AmoreCore
import AmoreKafka
import AmoreSimulation
import AmoreTestSupport
import Foundation
import Testing

/// `amore demo` as a new user runs it, without a terminal: the simulator, the engine and
/// the watch view together for ~20 s, on the test broker and topics of its own.
@Suite struct DemoSmokeTests {
    @Test func theDemoPublishesAustinRankingsAndDeadLettersOnlyTheRecordsBrokenOnPurpose() throws {
        let servers = try TestBroker.bootstrapServers()
        let topics = TestTopics("demo")
        // A smaller Austin than the default (the debug build is slow), five minutes of history.
        let demo = try EngineProcess("demo", servers: servers, topics: topics, extra: [
            "--stop-after", "20", "--restaurants", "80", "--couriers", "800", "--history", "5m",
            "--malformed-fraction", "0.002",
        ])
        let status = demo.waitForExit(timeout_s: 120)
        #expect(status == 0, "\(demo.logTail())")

        // The watch view printed the downtown zone's ranking (non-terminal: plain blocks).
        let output = (try? String(contentsOf: demo.output, encoding: .utf8)) ?? ""
        let downtown = GeohashCell(lat_deg: City.austin.downtown.lat_deg, lon_deg: City.austin.downtown.lon_deg, precision: 6)
        #expect(output.contains("Amore · zone \(downtown) (austin) · version"), "\(output.suffix(2_000))")
        #expect(output.contains("  1  "), "a ranked row")
        // The live map's URL beside the view, on the engine's HTTP endpoint.
        #expect(output.contains("map: http://\(demo.http)/map"), "\(output.suffix(1_000))")

        let rankings = try readAll(topics.rankings, servers: servers)
        let austinZones = Set(rankings.filter { $0.json["market_id"] as? String == "austin" }.compactMap(\.key))
        #expect(austinZones.count >= 50, "\(austinZones.count) Austin zones published")
        #expect(austinZones.contains(downtown.description))
        let (valid, complaints) = try SchemaChecker.validate("ranking", rankings.map(\.value))
        #expect(valid == 0, "\(rankings.count) rankings: \(complaints.prefix(5))")

        // Dead letters are exactly the records broken on purpose (their header says so) that
        // the engine had consumed and committed before it stopped, each with the reason meant.
        let committed = try committedOffsets(group: topics.group, topics: [topics.orders, topics.couriers], servers: servers)
        var meant: [String: String] = [:]
        var brokenAnywhere: [String: String] = [:]
        var inputRecords = 0
        for topic in [topics.orders, topics.couriers] {
            for record in try readAll(topic, servers: servers) {
                inputRecords += 1
                guard let reason = record.headers[SimulatedRecord.malformedHeader] else { continue }
                brokenAnywhere["\(topic)[\(record.partition)]@\(record.offset)"] = reason
                if record.offset < committed["\(topic)[\(record.partition)]", default: 0] {
                    meant["\(topic)[\(record.partition)]@\(record.offset)"] = reason
                }
            }
        }
        #expect(inputRecords > 50_000)
        #expect(meant.count >= 20, "the demo breaks some records on purpose")
        var found: [String: String] = [:]
        for letter in try readAll(topics.deadLetters, servers: servers) {
            let source = letter.json["source"] as? [String: Any] ?? [:]
            let place = "\(source["topic"] as? String ?? "?")[\(source["partition"] as? Int ?? -1)]@\(source["offset"] as? Int ?? -1)"
            found[place] = letter.json["reason_code"] as? String ?? "?"
        }
        let unexpected = found.filter { brokenAnywhere[$0.key] == nil }
        #expect(unexpected.isEmpty, "dead letters not broken on purpose: \(unexpected.prefix(5))")
        let missing = meant.filter { found[$0.key] == nil }
        #expect(missing.isEmpty, "broken on purpose, consumed, but not dead-lettered: \(missing.prefix(5))")
        #expect(found.filter { brokenAnywhere[$0.key] != $0.value }.isEmpty, "each with the reason meant")
    }
}
