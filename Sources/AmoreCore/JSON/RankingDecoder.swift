/// Reads a published zone ranking (topic `amore.rankings`, `schemas/ranking.schema.json`)
/// back: what a follower of the topic (the API tier's `AmoreClient`, `amore serve`) does
/// with every record. The same strict reader as the input decoders, no Foundation; the
/// key must be the zone id, and a ranking must be one the model can have made (each
/// entry's delivery and carry-out follow from its parts, one hand-off per zone), since
/// the board stores the parts and derives the sums.
public enum RankingDecoder {
    static let fields: [StaticString] = ["schema_version", "zone_id", "market_id", "version", "as_of_ms", "entries"]
    static let required: UInt32 = 0b11_1111
    static let entryFields: [StaticString] = ["restaurant_id", "delivery_eta_s", "queue_wait_s", "prep_s", "courier_arrival_s",
                                              "handoff_s", "travel_s", "carry_out_ready_s", "styles", "confidence", "reason"]
    static let entryRequired: UInt32 = 0b011_1111_1111
    /// Seconds: a day is far beyond any ETA and keeps every sum inside Int32.
    static let seconds: ClosedRange<Int64> = 0...86_400

    /// The ranking in `bytes`; `key` (the record's key) must be its zone id when given.
    public static func decode(_ bytes: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer?) throws(EventRejection) -> ZoneRanking {
        var ranking = ZoneRanking(zoneID: "", marketID: .placeholder, version: 0, asOf_ms: 0, entries: [])
        var entryProblem: (field: String, failure: JSONReader.Failure)?
        let seen: UInt32
        do throws(EventRejection) {
            seen = try decodeTop(bytes, &ranking, &entryProblem)
        } catch {
            // A bad entry is reported by its place ("entries[3]"), not as "entries".
            if let entryProblem { throw EventRejection(entryProblem.failure.reason, field: entryProblem.field, entryProblem.failure.message) }
            throw error
        }
        try EventDecoder.requireFields(seen, required, fields)
        if let key, !key.elementsEqual(ranking.zoneID.utf8) {
            throw EventRejection(.keyMismatch, field: "zone_id",
                                 "Kafka key '\(String(decoding: key, as: UTF8.self))' differs from zone_id '\(ranking.zoneID)'")
        }
        let handoff = ranking.entries.first?.handoff_s
        for (position, entry) in ranking.entries.enumerated() {
            let carryOut = entry.queueWait_s + entry.prep_s
            guard entry.carryOutReady_s == carryOut,
                  entry.deliveryETA_s == max(carryOut, entry.courierArrival_s) + entry.handoff_s + entry.travel_s else {
                throw EventRejection(.outOfRange, field: "entries[\(position)]",
                                     "delivery_eta_s and carry_out_ready_s do not follow from the parts")
            }
            guard entry.handoff_s == handoff else {
                throw EventRejection(.outOfRange, field: "entries[\(position)].handoff_s", "differs from the zone's other entries")
            }
        }
        return ranking
    }

    private static func decodeTop(_ bytes: UnsafeRawBufferPointer, _ ranking: inout ZoneRanking,
                                  _ entryProblem: inout (field: String, failure: JSONReader.Failure)?) throws(EventRejection) -> UInt32 {
        try EventDecoder.decodeDocument(bytes, fields: fields) { field, reader in
            switch field {
            case 0: try reader.readSchemaVersion()
            case 1:
                let text = try reader.readText(maxCharacters: GeohashCell.maxPrecision)
                guard GeohashCell(text) != nil else {
                    throw JSONReader.Failure(reason: .outOfRange, message: "'\(text)' is not a geohash")
                }
                ranking.zoneID = text
            case 2: ranking.marketID = try reader.readIdentifier()
            case 3: ranking.version = try reader.readInteger(in: 0...Int64.max)
            case 4: ranking.asOf_ms = try reader.readInteger(in: EventDecoder.eventTimeRange_ms)
            default:
                guard try reader.peek() == UInt8(ascii: "[") else { try reader.mismatch("expected an array of entries") }
                try reader.readArray(depth: 2) { position, reader in
                    do {
                        ranking.entries.append(try readEntry(&reader))
                    } catch let failure as JSONReader.Failure {
                        entryProblem = ("entries[\(position)]", failure)
                        throw failure
                    }
                }
            }
        }
    }

    private static func readEntry(_ reader: inout JSONReader) throws -> RankingEntry {
        guard try reader.peek() == UInt8(ascii: "{") else { try reader.mismatch("expected an entry object") }
        var entry = RankingEntry(restaurantID: .placeholder, deliveryETA_s: 0, queueWait_s: 0, prep_s: 0, courierArrival_s: 0,
                                 handoff_s: 0, travel_s: 0, carryOutReady_s: 0, styles: [], confidence: .high)
        var seen: UInt32 = 0
        try reader.readObject(depth: 3, fields: entryFields) { field, reader in
            guard let field else { return try reader.skipValue(depth: 4) }
            guard seen & (1 << field) == 0 else {
                throw JSONReader.Failure(reason: .duplicateKey, message: "\(entryFields[field]) appears more than once")
            }
            seen |= 1 << field
            switch field {
            case 0: entry.restaurantID = try reader.readIdentifier()
            case 1: entry.deliveryETA_s = Int32(try reader.readInteger(in: seconds))
            case 2: entry.queueWait_s = Int32(try reader.readInteger(in: seconds))
            case 3: entry.prep_s = Int32(try reader.readInteger(in: seconds))
            case 4: entry.courierArrival_s = Int32(try reader.readInteger(in: seconds))
            case 5: entry.handoff_s = Int32(try reader.readInteger(in: 0...65_535))
            case 6: entry.travel_s = Int32(try reader.readInteger(in: seconds))
            case 7: entry.carryOutReady_s = Int32(try reader.readInteger(in: seconds))
            case 8: entry.styles = try reader.readStyles()
            case 9: entry.confidence = EstimateConfidence(rawValue: UInt8(try reader.readEnum(EstimateConfidence.names)))!
            default: entry.reason = EstimateReason(rawValue: UInt8(try reader.readEnum(EstimateReason.names)))!
            }
        }
        let missing = entryRequired & ~seen
        if missing != 0 {
            throw JSONReader.Failure(reason: .missingField, message: "\(entryFields[missing.trailingZeroBitCount]) is missing")
        }
        return entry
    }
}
