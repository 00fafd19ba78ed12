/// Encoders for the input contracts, the inverse of `EventDecoder` (for the simulator,
/// replays and tests). Output is valid against `schemas/`.
public enum EventEncoder {
    public static func encode(_ ping: CourierPing) -> [UInt8] {
        var writer = JSONWriter(capacity: 200)
        writer.beginObject()
        writer.key("schema_version"); writer.value(currentSchemaVersion)
        writer.key("courier_id"); writer.value(ping.courierID)
        writer.key("market_id"); writer.value(ping.marketID)
        writer.key("lat"); writer.value(ping.lat_deg)
        writer.key("lon"); writer.value(ping.lon_deg)
        writer.key("status"); writer.value(ping.status.name)
        writer.key("event_time_ms"); writer.value(ping.eventTime_ms)
        if let speed = ping.speed_mps { writer.key("speed_mps"); writer.value(speed) }
        if let heading = ping.heading_deg { writer.key("heading_deg"); writer.value(heading) }
        writer.endObject()
        return writer.bytes
    }

    public static func encode(_ event: OrderEvent) -> [UInt8] {
        var writer = JSONWriter(capacity: 220)
        writer.beginObject()
        writer.key("schema_version"); writer.value(currentSchemaVersion)
        writer.key("event_id"); writer.value(event.eventID)
        writer.key("restaurant_id"); writer.value(event.restaurantID)
        writer.key("market_id"); writer.value(event.marketID)
        writer.key("order_id"); writer.value(event.orderID)
        writer.key("type"); writer.value(event.type.name)
        writer.key("channel"); writer.value(event.channel.name)
        writer.key("event_time_ms"); writer.value(event.eventTime_ms)
        writer.endObject()
        return writer.bytes
    }

    public static func encode(_ profile: RestaurantProfile) -> [UInt8] {
        var writer = JSONWriter(capacity: 320)
        writer.beginObject()
        writer.key("schema_version"); writer.value(currentSchemaVersion)
        writer.key("restaurant_id"); writer.value(profile.restaurantID)
        writer.key("market_id"); writer.value(profile.marketID)
        writer.key("name"); writer.value(profile.name)
        writer.key("lat"); writer.value(profile.lat_deg)
        writer.key("lon"); writer.value(profile.lon_deg)
        writer.key("styles")
        writer.beginArray()
        for style in profile.styles.members { writer.value(style.name) }
        writer.endArray()
        writer.key("ovens"); writer.value(profile.ovens)
        writer.key("default_prep_s"); writer.value(profile.defaultPrep_s)
        writer.key("delivery_radius_m"); writer.value(profile.deliveryRadius_m)
        writer.key("is_open"); writer.value(profile.isOpen)
        writer.key("updated_at_ms"); writer.value(profile.updatedAt_ms)
        writer.endObject()
        return writer.bytes
    }
}
