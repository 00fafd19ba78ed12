import AmoreCore
import AmoreKafka
import AmoreLocalBroker
import AmoreTestSupport
import Foundation
import Testing

/// `amore run` as a separate process against the real broker (`AMORE_TEST_BOOTSTRAP_SERVERS`,
/// which `./test` starts): input produced with the contracts' keys, output read back.
@Suite(.serialized) struct EngineEndToEndTests {
    static let t0 = Scenario.t0
    static let zone = Scenario.zone.description

    /// The scenario of `MarketScenarioTests.aRestaurantWhoseQueueGrowsDropsAndAClosedOneDisappears`
    /// up to the queue growing, as Kafka input:
    /// - A: 2,000 m north of Z's centre, 2 ovens, prep 600 s; B: 3,000 m south, 1 oven,
    ///   prep 480 s, radius 6,000 m. Courier K1 800 m north of A, K2 600 m south of B.
    /// - The ping at t0 + 1,100 crosses t0 + 1,000: Z is published as of t0 + 1,000:
    ///   A: queue 0, prep 600, courier 800/4 = 200, travel 2,000/4 = 500 →
    ///      max(600, 200) + 120 + 500 = 1,220; carry-out 600.
    ///   B: queue 0, prep 480, courier 600/4 = 150, travel 3,000/4 = 750 →
    ///      max(480, 150) + 120 + 750 = 1,350; carry-out 480.
    /// - Four orders placed at A (t0 + 2,000...2,003): 4 ahead, 2 ovens → queue
    ///   ⌊4/2⌋ × 600 = 1,200; delivery max(1,800, 200) + 120 + 500 = 2,420, carry-out 1,800.
    ///   The ping at t0 + 3,100 crosses t0 + 3,000: Z is republished as of t0 + 3,000, B first.
    /// - Nothing else moves (the idle refresh at t0 + 3,100 changes nothing material), so Z
    ///   is published exactly twice.
    static func writeScenario(_ input: InputWriter) throws {
        try input.send(Scenario.profile("A", north_m: 2_000, ovens: 2, prep_s: 600))
        try input.send(Scenario.profile("B", north_m: -3_000, ovens: 1, prep_s: 480, radius_m: 6_000))
        try input.send(Scenario.ping("K1", north_m: 2_800, at: t0 + 100))
        try input.send(Scenario.ping("K2", north_m: -3_600, at: t0 + 100))
        try input.send(Scenario.ping("K1", north_m: 2_800, at: t0 + 1_100))
        for index in 0..<4 {
            try input.send(Scenario.order("o\(index)", at: "A", .placed, t0 + 2_000 + Int64(index)))
        }
        try input.send(Scenario.ping("K1", north_m: 2_800, at: t0 + 3_100))
        try input.flush()
    }

    /// (restaurant, delivery, queue, prep, courier, hand-off, travel, carry-out) of each entry.
    static func parts(_ ranking: [String: Any]) -> [[String]] {
        (ranking["entries"] as? [[String: Any]] ?? []).map { entry in
            ["restaurant_id", "delivery_eta_s", "queue_wait_s", "prep_s", "courier_arrival_s", "handoff_s", "travel_s",
             "carry_out_ready_s"].map { "\(entry[$0] ?? "-")" }
        }
    }

    @Test func aScriptedScenarioPublishesTheHandWorkedRankings() throws {
        // A broker reached through a stall proxy (it advertises the proxy), so that the
        // profile load can be held back for as long as the test needs: readiness is
        // checked without depending on fetch timing.
        _ = try TestBroker.bootstrapServers()
        let proxied = try ProxiedBroker()
        let proxy = proxied.proxy
        let servers = proxied.servers
        let topics = TestTopics("scenario")
        try topics.createInputs(servers: servers, partitions: 4)
        // Every topic exists beforehand: the engine's start-up then only reads metadata,
        // which the broker answers on the engine's bootstrap connection (not the proxy).
        try TestBroker.admin(servers).createTopics([topics.rankings, topics.deadLetters, topics.checkpoints].map {
            NewTopic($0, partitions: 4, configs: $0 == topics.deadLetters ? [:] : ["cleanup.policy": "compact"])
        })
        try Self.writeScenario(InputWriter(servers: servers, topics: topics))

        try proxy.stall()
        let engine = try EngineProcess(servers: proxied.broker.bootstrapServers, topics: topics)
        // Not ready while the profiles cannot be fetched, however long that lasts.
        for _ in 0..<3 {
            let readiness = engine.get("/readyz")
            #expect(readiness.status == 503 && readiness.body.contains("restaurant profiles not loaded yet"), "\(readiness)")
        }
        #expect(engine.sum(engine.metrics(), "amore_records_in_total", ["type=\"profile\""]) == 0)
        try proxy.resume()
        // Once ready, both profiles were read.
        #expect(eventually(timeout_s: 30) { engine.get("/readyz").status == 200 }, "\(engine.logTail())")
        #expect(engine.sum(engine.metrics(), "amore_records_in_total", ["type=\"profile\""]) == 2)
        #expect(engine.get("/healthz").status == 200)
        #expect(engine.waitUntilCaughtUp(expectedRecords: 8), "\(engine.logTail())")

        let records = try readAll(topics.rankings, servers: servers)
        let zoneRecords = records.filter { $0.key == Self.zone }.sorted { $0.offset < $1.offset }
        try #require(zoneRecords.count == 2, "zone Z published \(zoneRecords.count) times; log: \(engine.logTail())")
        let first = zoneRecords[0].json
        let second = zoneRecords[1].json
        #expect((first["version"] as? NSNumber)?.int64Value == Self.t0 + 1_000)
        #expect((first["as_of_ms"] as? NSNumber)?.int64Value == Self.t0 + 1_000)
        #expect(Self.parts(first) == [["A", "1220", "0", "600", "200", "120", "500", "600"],
                                      ["B", "1350", "0", "480", "150", "120", "750", "480"]])
        #expect((second["version"] as? NSNumber)?.int64Value == Self.t0 + 3_000)
        #expect(Self.parts(second) == [["B", "1350", "0", "480", "150", "120", "750", "480"],
                                       ["A", "2420", "1200", "600", "200", "120", "500", "1800"]])
        #expect(first["market_id"] as? String == "austin")

        // Every publication: keyed by its zone, with its headers, valid against the schema;
        // versions strictly increasing per zone.
        #expect(records.count > 50)
        for record in records {
            #expect(record.key == record.json["zone_id"] as? String)
            #expect(record.headers["content-type"] == "application/json")
            #expect(record.headers["schema_version"] == "1")
        }
        var lastVersion: [String: Int64] = [:]
        for record in records.sorted(by: { ($0.partition, $0.offset) < ($1.partition, $1.offset) }) {
            let version = (record.json["version"] as? NSNumber)?.int64Value ?? 0
            #expect(version > lastVersion[record.key ?? "", default: 0], "zone \(record.key ?? "?") went back to \(version)")
            lastVersion[record.key ?? ""] = version
        }
        let (status, complaints) = try SchemaChecker.validate("ranking", records.map(\.value))
        #expect(status == 0, "\(complaints.prefix(5))")

        // The same ranking from the lock-free index over HTTP, by zone and by position.
        let byZone = engine.get("/v1/zones/\(Self.zone)/rankings")
        #expect(byZone.status == 200)
        let byZoneJSON = try JSONSerialization.jsonObject(with: Data(byZone.body.utf8)) as? [String: Any] ?? [:]
        #expect(Self.parts(byZoneJSON) == Self.parts(second))
        let centre = Scenario.zone.center
        let nearby = engine.get("/v1/rankings?lat=\(centre.lat_deg)&lon=\(centre.lon_deg)&mode=carry_out&limit=1")
        let nearbyJSON = try JSONSerialization.jsonObject(with: Data(nearby.body.utf8)) as? [String: Any] ?? [:]
        // Carry-out: B 480 s before A 1,800 s; limit 1.
        #expect(Self.parts(nearbyJSON) == [["B", "1350", "0", "480", "150", "120", "750", "480"]])
        #expect(engine.get("/v1/rankings?lat=95&lon=0").status == 400)
        #expect(engine.get("/v1/zones/9v6kpd/rankings?style=hawaiian").body.contains("style"))
        #expect(engine.get("/v1/zones/dr5reg/rankings").status == 404)

        // /metrics, parsed.
        let samples = engine.metrics()
        #expect(engine.sum(samples, "amore_records_in_total", ["topic=\"\(topics.orders)\"", "type=\"placed\""]) == 4)
        #expect(engine.sum(samples, "amore_records_in_total", ["topic=\"\(topics.couriers)\"", "type=\"available\""]) == 4)
        #expect(engine.sum(samples, "amore_rejected_records_total") == 0)
        #expect(engine.sum(samples, "amore_publications_total") == Double(records.count))
        #expect(engine.sum(samples, "amore_event_to_publication_seconds_count") == Double(records.count))
        #expect(engine.sum(samples, "amore_restaurants") == 2)
        #expect(engine.sum(samples, "amore_couriers") == 2)
        #expect(engine.sum(samples, "amore_zones") == Double(Set(records.compactMap(\.key)).count))
        #expect(samples.keys.filter { $0.hasPrefix("amore_consumer_lag{") }.count == 8)
        #expect(engine.terminate() == 0)
    }

    /// The gauges by which an engine says it has finished its input (the tests'
    /// `waitUntilCaughtUp` waits on them) tell work left from work done. The scenario is
    /// one market, so one pair; its last event, the ping at t0 + 3,100, comes after the
    /// refresh at t0 + 3,000 that it crossed, so the pair has events its rankings are not
    /// yet brought up to until an idle refresh:
    /// - idle refreshes off (an hour): once every record is committed, 1 pair awaits its
    ///   idle refresh, and stays so; `waitUntilCaughtUp` does not return true;
    /// - idle refreshes after 100 ms: 0 pairs await; `waitUntilCaughtUp` returns true.
    /// Either way every publication is acknowledged: 0 unacknowledged.
    @Test func anEngineSaysWhetherItHasFinishedItsInput() throws {
        let servers = try TestBroker.bootstrapServers()
        for (idleRefresh_ms, awaiting) in [("3600000", 1.0), ("100", 0.0)] {
            let topics = TestTopics("finished")
            try topics.createInputs(servers: servers, partitions: 4)
            try Self.writeScenario(InputWriter(servers: servers, topics: topics))
            let engine = try EngineProcess(servers: servers, topics: topics, extra: ["--idle-refresh-ms", idleRefresh_ms])
            let inputs = [topics.orders, topics.couriers]
            let ends = try endOffsets(topics: inputs, servers: servers)
            #expect(ends.values.reduce(0, +) == 8)
            #expect(eventually(timeout_s: 60) {
                (try? committedOffsets(group: topics.group, topics: inputs, servers: servers)) == ends
            }, "\(engine.logTail())")
            // Recorded before each pass's commit: what is read now is at least that new.
            let settled = eventually(timeout_s: 30) {
                let samples = engine.metrics()
                return samples["amore_pairs_awaiting_idle_refresh"] == awaiting
                    && samples["amore_unacknowledged_publications"] == 0
            }
            let samples = engine.metrics()
            #expect(settled, "idle refresh \(idleRefresh_ms) ms: awaiting \(samples["amore_pairs_awaiting_idle_refresh"] ?? -1), unacknowledged \(samples["amore_unacknowledged_publications"] ?? -1)")
            #expect(engine.waitUntilCaughtUp(expectedRecords: 8, timeout_s: awaiting > 0 ? 3 : 30) == (awaiting == 0))
            #expect(engine.metrics()["amore_pairs_awaiting_idle_refresh"] == awaiting, "it stays so")
            #expect(engine.terminate() == 0, "\(engine.logTail())")
        }
    }

    @Test func malformedAndMismatchedRecordsAreDeadLetteredWhileValidOnesFlow() throws {
        let servers = try TestBroker.bootstrapServers()
        let topics = TestTopics("deadletter")
        try topics.createInputs(servers: servers, partitions: 4)
        let input = try InputWriter(servers: servers, topics: topics)
        let now = Self.t0 + 500
        // Bad records first and in between: each must be refused with its reason and
        // leave the rest flowing.
        try input.sendRaw(topics.restaurants, key: "broken", value: Array(#"{"schema_version":1,"restaurant_id":"broken""#.utf8),
                          timestamp_ms: now)
        try input.sendRaw(topics.orders, key: "austin", value: Array("not json".utf8), timestamp_ms: now)
        var dallas = Scenario.order("x1", at: "A", .placed, now)
        dallas.marketID = "dallas"
        try input.sendRaw(topics.orders, key: "austin", value: EventEncoder.encode(dallas), timestamp_ms: now)
        try input.sendRaw(topics.couriers, key: "austin", value: Array(
            #"{"schema_version":1,"courier_id":"K9","market_id":"austin","lat":95,"lon":-97.7,"status":"available","event_time_ms":\#(now)}"#.utf8),
            timestamp_ms: now)
        try input.sendRaw(topics.couriers, key: "austin", value: Array(
            #"{"schema_version":1,"courier_id":"K9","market_id":"austin","lat":30.2,"lon":-97.7,"status":"flying","event_time_ms":\#(now)}"#.utf8),
            timestamp_ms: now)
        // Event time an hour after the record's timestamp.
        try input.sendRaw(topics.couriers, key: "austin",
                          value: EventEncoder.encode(Scenario.ping("K9", north_m: 0, at: now + 3_600_000)), timestamp_ms: now)
        try Self.writeScenario(input)
        let expected: Set<[String]> = [
            [topics.restaurants, "malformed_json"], [topics.orders, "not_an_object"], [topics.orders, "key_mismatch"],
            [topics.couriers, "out_of_range"], [topics.couriers, "unknown_enum_value"], [topics.couriers, "event_time_in_future"],
        ]

        let engine = try EngineProcess(servers: servers, topics: topics)
        #expect(engine.waitUntilCaughtUp(expectedRecords: 8 + 6), "\(engine.logTail())")
        let letters = try readAll(topics.deadLetters, servers: servers)
        let found = letters.map { letter -> [String] in
            let source = letter.json["source"] as? [String: Any] ?? [:]
            return [source["topic"] as? String ?? "?", letter.json["reason_code"] as? String ?? "?"]
        }
        #expect(Set(found) == expected)
        #expect(found.count == expected.count)
        for letter in letters {
            let source = letter.json["source"] as? [String: Any] ?? [:]
            #expect(source["offset"] is NSNumber && source["partition"] is NSNumber && source["timestamp_ms"] is NSNumber)
            #expect(letter.headers["reason"] == letter.json["reason_code"] as? String)
            #expect(!(letter.json["message"] as? String ?? "").isEmpty)
        }
        let (status, complaints) = try SchemaChecker.validate("dead_letter", letters.map(\.value))
        #expect(status == 0, "\(complaints.prefix(5))")
        let fields = Set(letters.compactMap { $0.json["field"] as? String })
        #expect(fields.isSuperset(of: ["market_id", "lat", "status", "event_time_ms"]))

        // The valid records flowed: Z ends as in the scenario.
        let zone = try readAll(topics.rankings, servers: servers).filter { $0.key == Self.zone }.max { $0.offset < $1.offset }
        #expect(zone.map { Self.parts($0.json).map { $0[0] } } == ["B", "A"])
        let samples = engine.metrics()
        #expect(engine.sum(samples, "amore_rejected_records_total") == 6)
        #expect(engine.sum(samples, "amore_rejected_records_total", ["reason=\"malformed_json\""]) == 1)
        #expect(engine.sum(samples, "amore_dead_letters_total") == 6)
        #expect(engine.terminate() == 0)
    }

    @Test func refusesToStartWhenOrdersAndCouriersAreNotCoPartitioned() throws {
        let servers = try TestBroker.bootstrapServers()
        let topics = TestTopics("copartition")
        let admin = try TestBroker.admin(servers)
        try admin.createTopics([NewTopic(topics.orders, partitions: 4), NewTopic(topics.couriers, partitions: 2)])
        _ = try admin.waitForTopics([topics.orders, topics.couriers])
        let engine = try EngineProcess(servers: servers, topics: topics, awaitHTTP: false)
        #expect(engine.waitForExit(timeout_s: 30) == 1)
        #expect(engine.logTail(5).contains("\(topics.orders) (4 partitions) and \(topics.couriers) (2 partitions) are not co-partitioned"),
                "\(engine.logTail(5))")
    }
}
