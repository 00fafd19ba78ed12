/// Encoders for what the engine publishes: rankings and dead letters (see `schemas/`).
public enum OutputEncoder {
    public static func encode(_ ranking: ZoneRanking) -> [UInt8] {
        var writer = JSONWriter(capacity: 160 + 260 * ranking.entries.count)
        writer.beginObject()
        writer.key("schema_version"); writer.value(currentSchemaVersion)
        writer.key("zone_id"); writer.value(ranking.zoneID)
        writer.key("market_id"); writer.value(ranking.marketID)
        writer.key("version"); writer.value(ranking.version)
        writer.key("as_of_ms"); writer.value(ranking.asOf_ms)
        writer.key("entries")
        writer.beginArray()
        for entry in ranking.entries {
            writer.beginObject()
            writer.key("restaurant_id"); writer.value(entry.restaurantID)
            writer.key("delivery_eta_s"); writer.value(Int(entry.deliveryETA_s))
            writer.key("queue_wait_s"); writer.value(Int(entry.queueWait_s))
            writer.key("prep_s"); writer.value(Int(entry.prep_s))
            writer.key("courier_arrival_s"); writer.value(Int(entry.courierArrival_s))
            writer.key("handoff_s"); writer.value(Int(entry.handoff_s))
            writer.key("travel_s"); writer.value(Int(entry.travel_s))
            writer.key("carry_out_ready_s"); writer.value(Int(entry.carryOutReady_s))
            writer.key("styles")
            writer.beginArray()
            // Bit by bit, not through `members`: two arrays per entry showed in profiles.
            for bit in PizzaStyles.names.indices where entry.styles.rawValue & (1 << bit) != 0 {
                writer.value(PizzaStyles.names[bit])
            }
            writer.endArray()
            writer.key("confidence"); writer.value(entry.confidence.name)
            if let reason = entry.reason { writer.key("reason"); writer.value(reason.name) }
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
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
