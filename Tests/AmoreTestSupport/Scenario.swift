import AmoreCore

/// The places and events of hand-worked scenarios (expected ETAs are worked beside each
/// test from the model: delivery = max(queue wait + prep, courier arrival) + hand-off +
/// travel; queue wait = ⌊orders ahead / ovens⌋ × prep; courier speed 4 m/s; hand-off 120 s).
/// Places are put due north or south of zone Z's centre, where distances are exact
/// multiples of a metre (1° of latitude = 111,195.08 m on the model's sphere).
public enum Scenario {
    public static let zone = GeohashCell("9v6kpd")!  // central Austin
    public static let t0: Int64 = 1_767_225_600_000

    /// The point `north_m` metres north of zone Z's centre (south when negative).
    public static func north(_ north_m: Double) -> (lat: Double, lon: Double) {
        (zone.center.lat_deg + north_m / Earth.metresPerDegree, zone.center.lon_deg)
    }

    public static func profile(_ id: String, north_m: Double, ovens: Int, prep_s: Int, radius_m: Int = 5_000,
                               open: Bool = true, styles: PizzaStyles = .neapolitan, updatedAt_ms: Int64 = t0 - 60_000,
                               market: Identifier = "austin") -> RestaurantProfile {
        let place = north(north_m)
        return RestaurantProfile(restaurantID: Identifier(validating: id)!, marketID: market, name: id, lat_deg: place.lat,
                                 lon_deg: place.lon, styles: styles, ovens: ovens, defaultPrep_s: prep_s,
                                 deliveryRadius_m: radius_m, isOpen: open, updatedAt_ms: updatedAt_ms)
    }

    public static func ping(_ id: String, north_m: Double, at time_ms: Int64, status: CourierStatus = .available,
                            market: Identifier = "austin") -> CourierPing {
        let place = north(north_m)
        return CourierPing(courierID: Identifier(validating: id)!, marketID: market, lat_deg: place.lat, lon_deg: place.lon,
                           status: status, eventTime_ms: time_ms)
    }

    public static func order(_ order: String, at restaurant: String, _ type: OrderEventType, _ time_ms: Int64,
                             market: Identifier = "austin") -> OrderEvent {
        OrderEvent(eventID: Identifier(validating: "\(order)-\(type.name)-\(time_ms)")!, restaurantID: Identifier(validating: restaurant)!,
                   marketID: market, orderID: Identifier(validating: order)!, type: type, channel: .delivery, eventTime_ms: time_ms)
    }
}
