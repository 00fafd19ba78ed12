/// Pizza styles a restaurant serves, as a set of bits (no allocation, cheap to filter).
public struct PizzaStyles: OptionSet, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The contract's names, in bit order.
    public static let names: [StaticString] = ["neapolitan", "new_york", "detroit", "chicago_deep_dish", "sicilian", "gluten_free", "vegan"]

    public static let neapolitan = PizzaStyles(rawValue: 1 << 0)
    public static let newYork = PizzaStyles(rawValue: 1 << 1)
    public static let detroit = PizzaStyles(rawValue: 1 << 2)
    public static let chicagoDeepDish = PizzaStyles(rawValue: 1 << 3)
    public static let sicilian = PizzaStyles(rawValue: 1 << 4)
    public static let glutenFree = PizzaStyles(rawValue: 1 << 5)
    public static let vegan = PizzaStyles(rawValue: 1 << 6)

    /// Each style's bit position with its name, in contract order.
    public var members: [(bit: Int, name: StaticString)] {
        Self.names.indices.filter { rawValue & (1 << $0) != 0 }.map { ($0, Self.names[$0]) }
    }
}

/// What happened to an order (`type` in the order event contract).
public enum OrderEventType: UInt8, Sendable, CaseIterable {
    case placed, started, ready, pickedUp, cancelled
    public static let names: [StaticString] = ["placed", "started", "ready", "picked_up", "cancelled"]
    public var name: StaticString { Self.names[Int(rawValue)] }
}

public enum OrderChannel: UInt8, Sendable, CaseIterable {
    case delivery, pickup
    public static let names: [StaticString] = ["delivery", "pickup"]
    public var name: StaticString { Self.names[Int(rawValue)] }
}

public enum CourierStatus: UInt8, Sendable, CaseIterable {
    case available, toRestaurant, delivering, offline
    public static let names: [StaticString] = ["available", "to_restaurant", "delivering", "offline"]
    public var name: StaticString { Self.names[Int(rawValue)] }
}
