/// The current version of every event contract (`schema_version`). A producer adds
/// optional fields without changing it; only a breaking change increments it.
public let currentSchemaVersion = 1

/// A restaurant's profile (topic `amore.restaurants`, key = restaurant id).
public struct RestaurantProfile: Hashable, Sendable {
    public var restaurantID: Identifier
    public var marketID: Identifier
    public var name: String
    public var lat_deg: Double
    public var lon_deg: Double
    public var styles: PizzaStyles
    /// Orders the kitchen works on at once (ovens).
    public var ovens: Int
    /// Prep time before any has been learned from the restaurant's own orders.
    public var defaultPrep_s: Int
    public var deliveryRadius_m: Int
    public var isOpen: Bool
    public var updatedAt_ms: Int64

    public init(restaurantID: Identifier, marketID: Identifier, name: String, lat_deg: Double, lon_deg: Double,
                styles: PizzaStyles, ovens: Int, defaultPrep_s: Int, deliveryRadius_m: Int, isOpen: Bool, updatedAt_ms: Int64) {
        self.restaurantID = restaurantID
        self.marketID = marketID
        self.name = name
        self.lat_deg = lat_deg
        self.lon_deg = lon_deg
        self.styles = styles
        self.ovens = ovens
        self.defaultPrep_s = defaultPrep_s
        self.deliveryRadius_m = deliveryRadius_m
        self.isOpen = isOpen
        self.updatedAt_ms = updatedAt_ms
    }
}

/// One step of an order in a restaurant's queue (topic `amore.orders`, key = market id).
public struct OrderEvent: Hashable, Sendable {
    public var eventID: Identifier
    public var restaurantID: Identifier
    public var marketID: Identifier
    public var orderID: Identifier
    public var type: OrderEventType
    public var channel: OrderChannel
    public var eventTime_ms: Int64

    public init(eventID: Identifier, restaurantID: Identifier, marketID: Identifier, orderID: Identifier,
                type: OrderEventType, channel: OrderChannel, eventTime_ms: Int64) {
        self.eventID = eventID
        self.restaurantID = restaurantID
        self.marketID = marketID
        self.orderID = orderID
        self.type = type
        self.channel = channel
        self.eventTime_ms = eventTime_ms
    }
}

/// A courier's position and status (topic `amore.couriers`, key = market id).
public struct CourierPing: Hashable, Sendable {
    public var courierID: Identifier
    public var marketID: Identifier
    public var lat_deg: Double
    public var lon_deg: Double
    public var status: CourierStatus
    public var eventTime_ms: Int64
    public var speed_mps: Double?
    public var heading_deg: Double?

    public init(courierID: Identifier, marketID: Identifier, lat_deg: Double, lon_deg: Double, status: CourierStatus,
                eventTime_ms: Int64, speed_mps: Double? = nil, heading_deg: Double? = nil) {
        self.courierID = courierID
        self.marketID = marketID
        self.lat_deg = lat_deg
        self.lon_deg = lon_deg
        self.status = status
        self.eventTime_ms = eventTime_ms
        self.speed_mps = speed_mps
        self.heading_deg = heading_deg
    }
}
