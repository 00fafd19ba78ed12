import AmoreCore
import HeapModule
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One simulated input event.
public enum SimulatedEvent: Sendable, Equatable {
    case order(OrderEvent)
    case ping(CourierPing)

    public var eventTime_ms: Int64 {
        switch self {
        case .order(let event): event.eventTime_ms
        case .ping(let ping): ping.eventTime_ms
        }
    }
}

/// A city at dinner peak, generated from a seed: the same seed gives the same
/// restaurants and the same events on every machine.
///
/// Restaurants cluster around the centre (6 km spread), deliver within 5-8 km, have
/// 2-6 ovens and a default prep of 8-20 min, and really take that ±30 %. Couriers ping
/// every `pingInterval_ms`, riding at 4-7 m/s with a wandering heading, and move between
/// available, to_restaurant and delivering (about half available), now and then
/// offline. Orders arrive at `ordersPerSecond` across the city: placed, started
/// 20 s-4 min later, ready after the restaurant's prep (±20 %), picked up 1-10 min
/// later; 3 % are cancelled instead.
public struct MarketSimulator: Sendable {
    public struct Settings: Sendable {
        public var marketID: Identifier = "austin"
        public var centreLat_deg = 30.2672
        public var centreLon_deg = -97.7431
        public var restaurants = 600
        public var couriers = 10_000
        public var pingInterval_ms: Int64 = 4_000
        public var ordersPerSecond = 2.5
        public var start_ms: Int64 = 1_767_225_600_000
        public var seed: UInt64 = 42

        public init() {}
    }

    struct Courier {
        var lat_deg: Double
        var lon_deg: Double
        var heading_rad: Double
        var speed_mps: Double
        var status: CourierStatus
        var nextPing_ms: Int64
    }

    struct Pending: Comparable {
        var event: OrderEvent
        var sequence: Int

        static func < (a: Pending, b: Pending) -> Bool {
            (a.event.eventTime_ms, a.sequence) < (b.event.eventTime_ms, b.sequence)
        }

        static func == (a: Pending, b: Pending) -> Bool { a.sequence == b.sequence }
    }

    public let settings: Settings
    public private(set) var profiles: [RestaurantProfile] = []
    /// Simulated time: every event before it has been emitted.
    public private(set) var now_ms: Int64
    private var random: SplitMix64
    private var couriers: [Courier] = []
    private var courierIDs: [Identifier] = []
    private var truePrep_s: [Double] = []
    private var pendingOrders = Heap<Pending>()
    private var sequence = 0
    private var nextOrder_ms: Double

    public init(settings: Settings = Settings()) {
        self.settings = settings
        now_ms = settings.start_ms
        nextOrder_ms = Double(settings.start_ms)
        random = SplitMix64(seed: settings.seed)
        let allStyles = PizzaStyles.names.indices
        for index in 0..<settings.restaurants {
            let (lat, lon) = scatter(spread_m: 6_000)
            var styles = PizzaStyles()
            for bit in allStyles where uniform() < 0.35 { styles.insert(PizzaStyles(rawValue: 1 << bit)) }
            if styles.isEmpty { styles = .newYork }
            let prep = Int(uniform(480, 1_200))
            profiles.append(RestaurantProfile(
                restaurantID: Identifier(validating: "r-\(index)")!, marketID: settings.marketID, name: "Pizzeria \(index)",
                lat_deg: lat, lon_deg: lon, styles: styles, ovens: Int(uniform(2, 7)), defaultPrep_s: prep,
                deliveryRadius_m: Int(uniform(5_000, 8_000)), isOpen: true, updatedAt_ms: settings.start_ms - 3_600_000))
            truePrep_s.append(Double(prep) * uniform(0.7, 1.3))
        }
        let statuses: [CourierStatus] = [.available, .available, .toRestaurant, .delivering]
        for index in 0..<settings.couriers {
            let (lat, lon) = scatter(spread_m: 8_000)
            couriers.append(Courier(lat_deg: lat, lon_deg: lon, heading_rad: uniform(0, 2 * Double.pi),
                                    speed_mps: uniform(4, 7), status: statuses[Int(uniform(0, 4))],
                                    nextPing_ms: settings.start_ms + Int64(uniform(0, Double(settings.pingInterval_ms)))))
            courierIDs.append(Identifier(validating: "c-\(index)")!)
        }
    }

    /// Emits, in event-time order, every event before `until_ms`.
    public mutating func run(until until_ms: Int64, _ emit: (SimulatedEvent) -> Void) {
        while now_ms < until_ms {
            let stepEnd = min(until_ms, now_ms + 1_000)
            var step: [SimulatedEvent] = []
            placeOrders(before: stepEnd)
            while let first = pendingOrders.min, first.event.eventTime_ms < stepEnd {
                step.append(.order(pendingOrders.removeMin().event))
            }
            for index in couriers.indices where couriers[index].nextPing_ms < stepEnd {
                step.append(.ping(ping(index)))
            }
            // Ties keep generation order (orders first), so the output is the same everywhere.
            let ordered = step.indices.sorted { (step[$0].eventTime_ms, $0) < (step[$1].eventTime_ms, $1) }
            for index in ordered { emit(step[index]) }
            now_ms = stepEnd
        }
    }

    /// Every event of the next `duration_ms`.
    public mutating func record(duration_ms: Int64) -> [SimulatedEvent] {
        var events: [SimulatedEvent] = []
        run(until: now_ms + duration_ms) { events.append($0) }
        return events
    }

    private mutating func placeOrders(before end_ms: Int64) {
        while nextOrder_ms < Double(end_ms) {
            let placed = Int64(nextOrder_ms)
            let restaurant = Int(uniform(0, Double(settings.restaurants)))
            let order = Identifier(validating: "o-\(sequence)")!
            let channel: OrderChannel = uniform() < 0.7 ? .delivery : .pickup
            var times: [(OrderEventType, Int64)] = [(.placed, placed)]
            if uniform() < 0.03 {
                times.append((.cancelled, placed + Int64(uniform(30_000, 300_000))))
            } else {
                let started = placed + Int64(uniform(20_000, 240_000))
                let ready = started + Int64(truePrep_s[restaurant] * uniform(0.8, 1.2) * 1_000)
                times += [(.started, started), (.ready, ready), (.pickedUp, ready + Int64(uniform(60_000, 600_000)))]
            }
            for (type, time) in times {
                let event = OrderEvent(eventID: Identifier(validating: "e-\(sequence)")!,
                                       restaurantID: profiles[restaurant].restaurantID, marketID: settings.marketID,
                                       orderID: order, type: type, channel: channel, eventTime_ms: time)
                sequence += 1
                pendingOrders.insert(Pending(event: event, sequence: sequence))
            }
            // Poisson arrivals.
            nextOrder_ms += -log(1 - uniform()) * 1_000 / settings.ordersPerSecond
        }
    }

    private mutating func ping(_ index: Int) -> CourierPing {
        var courier = couriers[index]
        let interval_s = Double(settings.pingInterval_ms) / 1_000
        let step_m = courier.speed_mps * interval_s
        courier.heading_rad += uniform(-0.4, 0.4)
        // Drift back towards the centre beyond 15 km.
        let north_m = (courier.lat_deg - settings.centreLat_deg) * Earth.metresPerDegree
        let east_m = (courier.lon_deg - settings.centreLon_deg) * Earth.metresPerDegree * cos(courier.lat_deg * Double.pi / 180)
        if north_m * north_m + east_m * east_m > 15_000 * 15_000 { courier.heading_rad = atan2(-north_m, -east_m) }
        courier.lat_deg += step_m * sin(courier.heading_rad) / Earth.metresPerDegree
        courier.lon_deg += step_m * cos(courier.heading_rad) / (Earth.metresPerDegree * cos(courier.lat_deg * Double.pi / 180))
        let roll = uniform()
        switch courier.status {
        case .available: if roll < 0.02 { courier.status = .toRestaurant } else if roll < 0.021 { courier.status = .offline }
        case .toRestaurant: if roll < 0.05 { courier.status = .delivering }
        case .delivering: if roll < 0.04 { courier.status = .available }
        case .offline: if roll < 0.01 { courier.status = .available }
        }
        let ping = CourierPing(courierID: courierIDs[index], marketID: settings.marketID, lat_deg: courier.lat_deg,
                               lon_deg: courier.lon_deg, status: courier.status, eventTime_ms: courier.nextPing_ms,
                               speed_mps: courier.speed_mps, heading_deg: compassHeading_deg(courier.heading_rad))
        courier.nextPing_ms += settings.pingInterval_ms
        couriers[index] = courier
        return ping
    }

    /// Clockwise from north in [0, 360), from an angle counter-clockwise from east.
    private func compassHeading_deg(_ angle_rad: Double) -> Double {
        let degrees = (90 - angle_rad * 180 / Double.pi).truncatingRemainder(dividingBy: 360)
        return degrees < 0 ? degrees + 360 : degrees
    }

    /// A point around the centre: the sum of uniforms, about `spread_m` standard deviation.
    private mutating func scatter(spread_m: Double) -> (Double, Double) {
        let north_m = (uniform(-1, 1) + uniform(-1, 1) + uniform(-1, 1)) * spread_m
        let east_m = (uniform(-1, 1) + uniform(-1, 1) + uniform(-1, 1)) * spread_m
        let lat = settings.centreLat_deg + north_m / Earth.metresPerDegree
        let lon = settings.centreLon_deg + east_m / (Earth.metresPerDegree * cos(settings.centreLat_deg * Double.pi / 180))
        return (lat, lon)
    }

    private mutating func uniform(_ low: Double = 0, _ high: Double = 1) -> Double {
        low + (high - low) * Double(random.next() >> 11) / Double(1 << 53)
    }
}

extension MarketState {
    /// Applies a simulated event as the engine would apply the decoded record.
    @discardableResult
    public mutating func apply(_ event: SimulatedEvent) -> ApplyOutcome {
        switch event {
        case .order(let order): apply(order)
        case .ping(let ping): apply(ping)
        }
    }
}
