/// Encoders for what the engine publishes: rankings and dead letters (see `schemas/`).
public enum OutputEncoder {
    public static func encode(_ ranking: ZoneRanking) -> [UInt8] {
        var writer = JSONWriter(capacity: 160 + 260 * ranking.entries.count)
        writeHead(&writer, zoneID: ranking.zoneID, market: ranking.marketID, version: ranking.version, asOf_ms: ranking.asOf_ms)
        for entry in ranking.entries {
            writeEntry(&writer, restaurant: entry.restaurantID, deliveryETA_s: entry.deliveryETA_s, queueWait_s: entry.queueWait_s,
                       prep_s: entry.prep_s, courierArrival_s: entry.courierArrival_s, handoff_s: entry.handoff_s,
                       travel_s: entry.travel_s, carryOutReady_s: entry.carryOutReady_s, styles: entry.styles,
                       confidence: entry.confidence, reason: entry.reason)
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }

    /// The same JSON as `encode(ZoneRanking(zone:snapshot:board:))`, written straight
    /// from the board's snapshot (no intermediate entries: the publisher's path).
    public static func encode(zone: GeohashCell, snapshot: ZoneSnapshot, board: RankingBoard) -> [UInt8] {
        let entries = snapshot.entries
        var writer = JSONWriter(capacity: 160 + 260 * entries.count)
        writeHead(&writer, zoneID: zone.description, market: board.identifier(at: snapshot.market),
                  version: snapshot.version, asOf_ms: snapshot.asOf_ms)
        for entry in entries {
            writeEntry(&writer, restaurant: board.identifier(at: entry.restaurant), deliveryETA_s: entry.deliveryETA_s,
                       queueWait_s: entry.queueWait_s, prep_s: entry.prep_s, courierArrival_s: entry.courierArrival_s,
                       handoff_s: entry.handoff_s, travel_s: entry.travel_s, carryOutReady_s: entry.carryOutReady_s,
                       styles: entry.styles, confidence: entry.confidence, reason: entry.reason)
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }

    /// Everything up to the opening of `entries`.
    private static func writeHead(_ writer: inout JSONWriter, zoneID: String, market: Identifier, version: Int64, asOf_ms: Int64) {
        writer.beginObject()
        writer.key("schema_version"); writer.value(currentSchemaVersion)
        writer.key("zone_id"); writer.value(zoneID)
        writer.key("market_id"); writer.value(market)
        writer.key("version"); writer.value(version)
        writer.key("as_of_ms"); writer.value(asOf_ms)
        writer.key("entries")
        writer.beginArray()
    }

    private static func writeEntry(_ writer: inout JSONWriter, restaurant: Identifier, deliveryETA_s: Int32, queueWait_s: Int32,
                                   prep_s: Int32, courierArrival_s: Int32, handoff_s: Int32, travel_s: Int32,
                                   carryOutReady_s: Int32, styles: PizzaStyles, confidence: EstimateConfidence,
                                   reason: EstimateReason?) {
        writer.beginObject()
        writer.key("restaurant_id"); writer.value(restaurant)
        writer.key("delivery_eta_s"); writer.value(Int(deliveryETA_s))
        writer.key("queue_wait_s"); writer.value(Int(queueWait_s))
        writer.key("prep_s"); writer.value(Int(prep_s))
        writer.key("courier_arrival_s"); writer.value(Int(courierArrival_s))
        writer.key("handoff_s"); writer.value(Int(handoff_s))
        writer.key("travel_s"); writer.value(Int(travel_s))
        writer.key("carry_out_ready_s"); writer.value(Int(carryOutReady_s))
        writer.key("styles")
        writer.beginArray()
        // Bit by bit, not through `members`: two arrays per entry showed in profiles.
        for bit in PizzaStyles.names.indices where styles.rawValue & (1 << bit) != 0 {
            writer.value(PizzaStyles.names[bit])
        }
        writer.endArray()
        writer.key("confidence"); writer.value(confidence.name)
        if let reason { writer.key("reason"); writer.value(reason.name) }
        writer.endObject()
    }

    public static func encode(_ letter: DeadLetter) -> [UInt8] {
        var writer = JSONWriter(capacity: 256 + 4 * ((letter.key?.count ?? 0) + (letter.value?.count ?? 0)) / 3)
        writer.beginObject()
        writer.key("schema_version"); writer.value(currentSchemaVersion)
        writer.key("reason_code"); writer.value(letter.rejection.reason.rawValue)
        if let field = letter.rejection.field { writer.key("field"); writer.value(field) }
        writer.key("message"); writer.value(letter.rejection.message)
        writer.key("source")
        writer.beginObject()
        writer.key("topic"); writer.value(letter.sourceTopic)
        writer.key("partition"); writer.value(Int(letter.sourcePartition))
        writer.key("offset"); writer.value(letter.sourceOffset)
        writer.key("timestamp_ms"); writer.value(letter.sourceTimestamp_ms)
        writer.endObject()
        writer.key("key_base64")
        if let key = letter.key { key.withUnsafeBytes { writer.base64($0) } } else { writer.null() }
        writer.key("value_base64")
        if let value = letter.value { value.withUnsafeBytes { writer.base64($0) } } else { writer.null() }
        writer.key("rejected_at_ms"); writer.value(letter.rejectedAt_ms)
        writer.endObject()
        return writer.bytes
    }
}
