import AmoreCore
import AmoreTestSupport
import Foundation
import Testing

/// Every example in schemas/examples is judged twice, by Python's jsonschema (plus the
/// documented strict-JSON and context rules) and by the Swift decoder: both must reach
/// the manifest's verdict, and invalid ones must fail for the intended reason and field.
@Suite struct ContractExampleTests {
    @Test func swiftDecoderReachesTheManifestVerdictOnEveryExample() throws {
        let examples = try Contracts.examples()
        #expect(examples.count >= 45)
        for example in examples {
            let result = Contracts.decode(example.schema, example.bytes, key: example.key, recordTimestamp_ms: example.recordTimestamp_ms)
            switch result {
            case .success(let decoded):
                #expect(example.expectValid, "\(example.file) was accepted; expected \(example.expectReason ?? "")")
                // Valid ones re-encode to an equivalent event.
                let again = Contracts.decode(example.schema, decoded.reencoded, key: example.key, recordTimestamp_ms: example.recordTimestamp_ms)
                #expect(again == .success(decoded), "\(example.file) re-encoded differs")
            case .failure(let rejection):
                #expect(!example.expectValid, "\(example.file) was refused: \(rejection)")
                #expect(rejection.reason.rawValue == example.expectReason, "\(example.file): \(rejection)")
                if let field = example.expectField {
                    #expect(rejection.field == field, "\(example.file): \(rejection)")
                }
                #expect(!rejection.message.isEmpty)
            }
        }
    }

    @Test func pythonJsonschemaAgreesWithTheSwiftDecoder() throws {
        let (status, lines) = try Contracts.runChecker([])
        #expect(status == 0, "check_examples.py found examples whose verdict differs from the manifest: \(lines.filter { $0.contains("false") })")
        let examples = try Contracts.examples()
        #expect(lines.count == examples.count)
        for (line, example) in zip(lines, examples) {
            let verdict = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            #expect(verdict["file"] as? String == example.file)
            let pythonReason = verdict["reason"] as? String
            let swiftReason: String? = switch Contracts.decode(example.schema, example.bytes, key: example.key, recordTimestamp_ms: example.recordTimestamp_ms) {
            case .success: nil
            case .failure(let rejection): rejection.reason.rawValue
            }
            #expect(pythonReason == swiftReason, "\(example.file): python \(pythonReason ?? "valid"), swift \(swiftReason ?? "valid")")
        }
    }

    @Test func encodedRankingsAndDeadLettersValidateAgainstTheirSchemas() throws {
        let entry = RankingEntry(restaurantID: "r-home-slice", deliveryETA_s: 1_980, queueWait_s: 240, prep_s: 720,
                                 courierArrival_s: 600, handoff_s: 120, travel_s: 900, carryOutReady_s: 960,
                                 styles: [.newYork, .vegan], confidence: .high)
        var fallback = entry
        fallback.restaurantID = "r-via-313"
        fallback.confidence = .low
        fallback.reason = .noCourierNearby
        let ranking = ZoneRanking(zoneID: "9v6kpd", marketID: "austin", version: 42, asOf_ms: 1_764_000_000_000, entries: [entry, fallback])
        let empty = ZoneRanking(zoneID: "9v6kpe", marketID: "austin", version: 1, asOf_ms: 1_764_000_000_000, entries: [])
        let letter = DeadLetter(rejection: EventRejection(.keyMismatch, field: "market_id", "Kafka key 'dallas' differs from market_id 'austin'"),
                                sourceTopic: "amore.couriers", sourcePartition: 3, sourceOffset: 1_234, sourceTimestamp_ms: 1_764_000_001_000,
                                key: Array("dallas".utf8), value: [0x7B, 0xFF, 0x00, 0x22, 0x0A], rejectedAt_ms: 1_764_000_002_000)
        let tombstone = DeadLetter(rejection: EventRejection(.notAnObject, "the document is not a JSON object"), sourceTopic: "amore.orders",
                                   sourcePartition: 0, sourceOffset: 0, sourceTimestamp_ms: 1, key: nil, value: nil, rejectedAt_ms: 2)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("amore-contracts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func write(_ name: String, _ bytes: [UInt8]) throws -> String {
            let url = directory.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            return url.path
        }
        let rankings = [try write("ranking.json", OutputEncoder.encode(ranking)), try write("empty.json", OutputEncoder.encode(empty))]
        let letters = [try write("letter.json", OutputEncoder.encode(letter)), try write("tombstone.json", OutputEncoder.encode(tombstone))]
        let (rankingStatus, rankingLines) = try Contracts.runChecker(["--validate", "ranking"] + rankings)
        #expect(rankingStatus == 0, "\(rankingLines)")
        let (letterStatus, letterLines) = try Contracts.runChecker(["--validate", "dead_letter"] + letters)
        #expect(letterStatus == 0, "\(letterLines)")
        // The original bytes survive, base64 as RFC 4648 has it.
        let text = String(decoding: OutputEncoder.encode(letter), as: UTF8.self)
        #expect(text.contains(#""key_base64":"ZGFsbGFz""#))
        #expect(text.contains(#""value_base64":"e/8AIgo=""#))
        #expect(text.contains(#""source":{"topic":"amore.couriers","partition":3,"offset":1234,"timestamp_ms":1764000001000}"#))
    }

    /// What the core publishes for a simulated city validates against the ranking schema.
    @Test func rankingsPublishedByASimulatedMarketValidate() throws {
        let (board, published) = simulatedMarket(restaurants: 30, couriers: 300, duration_ms: 120_000)
        try #require(published.count > 20)
        var documents: [[UInt8]] = []
        for zone in published.sorted(by: { $0.bits < $1.bits }) {
            let snapshot = try #require(board.snapshot(of: zone))
            let ranking = ZoneRanking(zone: zone, snapshot: snapshot, board: board)
            #expect(ranking.entries.allSatisfy { $0.restaurantID.description.hasPrefix("r-") })
            documents.append(OutputEncoder.encode(ranking))
            // The publisher's direct path writes the same bytes.
            #expect(OutputEncoder.encode(zone: zone, snapshot: snapshot, board: board) == documents.last)
        }
        let (status, lines) = try SchemaChecker.validate("ranking", documents)
        #expect(status == 0, "\(lines.prefix(10))")
    }
}

/// The published ranking read back (what `AmoreClient` and `amore serve` do per record).
@Suite struct RankingDecoderTests {
    static func ranking(entries: Int, seed: UInt64) -> ZoneRanking {
        var rng = seed
        func next(_ bound: Int32) -> Int32 {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int32(truncatingIfNeeded: (rng >> 33) % UInt64(bound))
        }
        let entries = (0..<entries).map { index -> RankingEntry in
            let queue = next(900), prep = 300 + next(900), courier = next(1_800), travel = next(1_500)
            let styles = PizzaStyles(rawValue: UInt16(1 + next(127)))
            let low = next(2) == 0
            return RankingEntry(restaurantID: Identifier(validating: "r-\(index)-\(next(1_000))")!,
                                deliveryETA_s: max(queue + prep, courier) + 120 + travel, queueWait_s: queue, prep_s: prep,
                                courierArrival_s: courier, handoff_s: 120, travel_s: travel, carryOutReady_s: queue + prep,
                                styles: styles, confidence: low ? .low : .high, reason: low ? .noCourierNearby : nil)
        }
        return ZoneRanking(zoneID: "9v6kpd", marketID: "austin", version: 1_796_233_585_000 + Int64(seed),
                           asOf_ms: 1_796_233_585_000, entries: entries)
    }

    static func decode(_ text: String, key: String? = "9v6kpd") throws -> ZoneRanking {
        let bytes = Array(text.utf8)
        let keyBytes = key.map { Array($0.utf8) }
        return try bytes.withUnsafeBytes { bytes in
            guard let keyBytes else { return try RankingDecoder.decode(bytes, key: nil) }
            return try keyBytes.withUnsafeBytes { key in try RankingDecoder.decode(bytes, key: key) }
        }
    }

    @Test func whatTheEngineWritesReadsBackEqual() throws {
        for seed in 0..<200 as Range<UInt64> {
            let ranking = Self.ranking(entries: Int(seed % 51), seed: seed)
            let text = String(decoding: OutputEncoder.encode(ranking), as: UTF8.self)
            #expect(try Self.decode(text) == ranking, "seed \(seed)")
        }
    }

    @Test func aBadRankingIsRefusedNamingTheFieldOrEntry() {
        let good = String(decoding: OutputEncoder.encode(Self.ranking(entries: 3, seed: 7)), as: UTF8.self)
        let cases: [(String, String?, String?, EventRejection.Reason)] = [
            (good, "9v6kpe", "zone_id", .keyMismatch),
            (good.replacingOccurrences(of: "\"zone_id\":\"9v6kpd\"", with: "\"zone_id\":\"9v6kpa\""), nil, "zone_id", .outOfRange),  // 'a' is not geohash
            (good.replacingOccurrences(of: "\"version\":", with: "\"versio\":"), "9v6kpd", "version", .missingField),
            (good.replacingOccurrences(of: "\"confidence\":\"low\"", with: "\"confidence\":\"meh\"")
                .replacingOccurrences(of: "\"confidence\":\"high\"", with: "\"confidence\":\"meh\""), "9v6kpd", "entries[0]", .unknownEnumValue),
            (good.replacingOccurrences(of: "\"handoff_s\":120,", with: "\"handoff_s\":121,"), "9v6kpd", "entries[0]", .outOfRange),
        ]
        for (text, key, field, reason) in cases {
            do {
                _ = try Self.decode(text, key: key)
                Issue.record("accepted: \(text.prefix(120))")
            } catch {
                let rejection = error as? EventRejection
                #expect(rejection?.reason == reason && rejection?.field == field, "\(error)")
            }
        }
    }
}
