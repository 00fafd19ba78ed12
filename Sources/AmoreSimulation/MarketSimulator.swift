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

/// One market's restaurants, kitchens, customers and couriers, generated from a seed: the
/// same settings give the same events, in the same order, on every machine.
///
/// - Restaurants cluster in the city's neighbourhoods (a fifth scattered over its bounding
///   box), serve a random set of styles, have 3-8 ovens, claim a prep time of 8-20 min and
///   really take 0.7-1.3 times that (their personality), ±20 % per order.
/// - Orders arrive as a Poisson process whose rate follows the local time of day (lunch
///   and dinner peaks; `ordersPerSecond` is the dinner peak), at restaurants weighted by
///   popularity and size; 70 % are for delivery. The kitchen accepts an order after
///   20-90 s and starts it when an oven is free; it cancels about 3 % before starting,
///   and any order that would wait more than 45 min for an oven.
/// - Couriers ride at street speeds (bike, scooter or car) along routes 1.35 times the
///   straight line. When a delivery order starts, the nearest available courier is sent
///   to the restaurant (`to_restaurant`), picks the order up once it is ready and they
///   are there (`delivering`), rides to the customer and becomes `available` again,
///   cruising towards busy neighbourhoods; now and then one goes `offline` for a break.
///   An order no courier can take within 30 min of being ready is cancelled.
///   Every courier pings every `pingInterval_ms`.
public struct MarketSimulator: Sendable {
    public enum Demand: Sendable {
        /// Lunch and dinner peaks in the city's local time.
        case dailyCurve
        /// `ordersPerSecond` all the time (benchmarks that need a steady load).
        case constant
    }

    public struct Settings: Sendable {
        public var city: City = .austin
        public var restaurants = 600
        public var couriers = 10_000
        public var pingInterval_ms: Int64 = 4_000
        /// Orders per second at the dinner peak.
        public var ordersPerSecond = 2.5
        public var demand = Demand.dailyCurve
        /// The local hour the daily curve is at when the simulation starts (a demo at dinner
        /// time whatever the clock says); nil follows the city's real local time.
        public var localHourAtStart: Double?
        /// 2026-01-01T00:00Z, 18:00 in Austin: dinner time.
        public var start_ms: Int64 = 1_767_225_600_000
        public var seed: UInt64 = 42

        public var marketID: Identifier { city.marketID }

        public init() {}
    }

    /// The share of the dinner-peak order rate at a local hour of the day, in (0, 1].
    public static func demandShare(localHour: Double) -> Double {
        func peak(_ centre_h: Double, _ width_h: Double) -> Double {
            var distance_h = abs(localHour - centre_h).truncatingRemainder(dividingBy: 24)
            distance_h = min(distance_h, 24 - distance_h)
            return exp(-0.5 * (distance_h / width_h) * (distance_h / width_h))
        }
        return min(1, 0.04 + 0.6 * peak(12.25, 1.0) + 0.96 * peak(19, 1.4))
    }

    struct Point {
        var lat_deg: Double
        var lon_deg: Double
    }

    struct Courier {
        /// The current leg: from `origin` at `depart_ms` to `destination` at `arrive_ms`.
        var origin: Point
        var destination: Point
        var depart_ms: Int64
        var arrive_ms: Int64
        var speed_mps: Double
        var status: CourierStatus
        var offlineUntil_ms: Int64 = 0

        func position(at time_ms: Int64) -> Point {
            guard time_ms < arrive_ms, arrive_ms > depart_ms else { return time_ms < depart_ms ? origin : destination }
            let fraction = Double(max(0, time_ms - depart_ms)) / Double(arrive_ms - depart_ms)
            return Point(lat_deg: origin.lat_deg + (destination.lat_deg - origin.lat_deg) * fraction,
                         lon_deg: origin.lon_deg + (destination.lon_deg - origin.lon_deg) * fraction)
        }
    }

    struct Order {
        var restaurant: Int
        var orderID: Identifier
        var channel: OrderChannel
        var ready_ms: Int64
        var customer: Point
        var courier: Int?
    }

    enum Wakeup {
        case nextOrder
        case kitchen(order: Int, OrderEventType)
        case dispatch(order: Int)
        case pickUp(order: Int)
        case dropOff(order: Int)
    }

    struct Scheduled: Comparable {
        var time_ms: Int64
        var sequence: Int
        var wakeup: Wakeup

        static func < (a: Scheduled, b: Scheduled) -> Bool { (a.time_ms, a.sequence) < (b.time_ms, b.sequence) }
        static func == (a: Scheduled, b: Scheduled) -> Bool { a.sequence == b.sequence }
    }

    static let routeFactor = 1.35
    static let maxKitchenWait_ms: Int64 = 45 * 60_000
    static let dispatchRadius_m = 12_000.0
    static let maxDispatchWait_ms: Int64 = 30 * 60_000

    public let settings: Settings
    public private(set) var profiles: [RestaurantProfile] = []
    /// Simulated time: every event before it has been emitted.
    public private(set) var now_ms: Int64
    private var random: SplitMix64
    private var couriers: [Courier] = []
    private var courierIDs: [Identifier] = []
    private var truePrep_s: [Double] = []
    private var ovenFree_ms: [[Int64]] = []
    /// Cumulative order weights of the restaurants, for a binary-searched pick.
    private var popularity: [Double] = []
    private var orders: [Int: Order] = [:]
    private var agenda = Heap<Scheduled>()
    /// Pings are periodic, so their order never changes: couriers sorted by the offset of
    /// their first ping, played round after round (a heap entry per ping cost more than
    /// the rest of the simulation at 200,000 couriers).
    private var pingOffsets_ms: [Int64] = []
    private var pingOrder: [Int32] = []
    private var pingCursor = 0
    private var pingRound: Int64 = 0
    private var scheduled = 0
    private var orderCount = 0
    private var eventCount = 0

    public init(settings: Settings = Settings()) {
        self.settings = settings
        now_ms = settings.start_ms
        random = SplitMix64(seed: settings.seed)
        let market = settings.city.marketID
        let allStyles = PizzaStyles.names.indices
        var total = 0.0
        for index in 0..<settings.restaurants {
            let (place, neighbourhood) = placeInCity(spreadScale: 1)
            var styles = PizzaStyles()
            for bit in allStyles where uniform() < 0.35 { styles.insert(PizzaStyles(rawValue: 1 << bit)) }
            if styles.isEmpty { styles = .newYork }
            let prep_s = Int(uniform(480, 1_200))
            let ovens = Int(uniform(3, 9))
            profiles.append(RestaurantProfile(
                restaurantID: Identifier(validating: "r-\(market)-\(index)")!, marketID: market,
                name: "\(Self.nameStems[Int(uniform(0, Double(Self.nameStems.count)))]) \(neighbourhood) #\(index)",
                lat_deg: place.lat_deg, lon_deg: place.lon_deg, styles: styles, ovens: ovens, defaultPrep_s: prep_s,
                deliveryRadius_m: Int(uniform(4_000, 8_000)), isOpen: true, updatedAt_ms: settings.start_ms - 3_600_000))
            truePrep_s.append(Double(prep_s) * uniform(0.7, 1.3))
            ovenFree_ms.append(Array(repeating: settings.start_ms, count: ovens))
            total += uniform(0.3, 1.7) * Double(ovens)
            popularity.append(total)
        }
        for index in 0..<settings.couriers {
            let (place, _) = placeInCity(spreadScale: 1.5)
            let vehicle = uniform()
            let speed_mps = vehicle < 0.4 ? uniform(4, 6) : vehicle < 0.7 ? uniform(6, 9) : uniform(7, 11)
            couriers.append(Courier(origin: place, destination: place, depart_ms: settings.start_ms, arrive_ms: settings.start_ms,
                                    speed_mps: speed_mps, status: .available))
            courierIDs.append(Identifier(validating: "c-\(market)-\(index)")!)
            pingOffsets_ms.append(Int64(uniform(0, Double(settings.pingInterval_ms))))
        }
        pingOrder = couriers.indices.map(Int32.init).sorted { (pingOffsets_ms[Int($0)], $0) < (pingOffsets_ms[Int($1)], $1) }
        if settings.restaurants > 0 { schedule(.nextOrder, at: settings.start_ms + nextArrivalGap_ms(at: settings.start_ms)) }
    }

    /// Emits, in event-time order, every event before `until_ms`.
    public mutating func run(until until_ms: Int64, _ emit: (SimulatedEvent) -> Void) {
        while true {
            let ping_ms = nextPing_ms
            if let next = agenda.min, next.time_ms < until_ms, next.time_ms <= ping_ms {
                let item = agenda.removeMin()
                handle(item.wakeup, at: item.time_ms, emit)
            } else if ping_ms < until_ms {
                emit(.ping(ping(Int(pingOrder[pingCursor]), at: ping_ms)))
                pingCursor += 1
                if pingCursor == pingOrder.count {
                    pingCursor = 0
                    pingRound += 1
                }
            } else {
                break
            }
        }
        now_ms = max(now_ms, until_ms)
    }

    /// When the next ping is due (never without couriers).
    private var nextPing_ms: Int64 {
        guard !pingOrder.isEmpty else { return .max }
        return settings.start_ms + pingRound * settings.pingInterval_ms + pingOffsets_ms[Int(pingOrder[pingCursor])]
    }

    /// Every event of the next `duration_ms`.
    public mutating func record(duration_ms: Int64) -> [SimulatedEvent] {
        var events: [SimulatedEvent] = []
        run(until: now_ms + duration_ms) { events.append($0) }
        return events
    }

    private mutating func handle(_ wakeup: Wakeup, at time_ms: Int64, _ emit: (SimulatedEvent) -> Void) {
        switch wakeup {
        case .nextOrder:
            placeOrder(at: time_ms, emit)
            schedule(.nextOrder, at: time_ms + nextArrivalGap_ms(at: time_ms))
        case .kitchen(let number, let type):
            guard let order = orders[number] else { return }
            emit(.order(orderEvent(order, type, at: time_ms)))
            if type == .cancelled { orders[number] = nil }
        case .dispatch(let number):
            dispatch(number, at: time_ms, emit)
        case .pickUp(let number):
            guard var order = orders[number] else { return }
            emit(.order(orderEvent(order, .pickedUp, at: time_ms)))
            guard let courier = order.courier else {
                orders[number] = nil  // carried out by the customer
                return
            }
            let arrive_ms = startLeg(courier, to: order.customer, at: time_ms, status: .delivering)
            order.courier = courier
            orders[number] = order
            schedule(.dropOff(order: number), at: arrive_ms)
        case .dropOff(let number):
            guard let courier = orders.removeValue(forKey: number)?.courier else { return }
            couriers[courier].status = .available
        }
    }

    private mutating func placeOrder(at placed_ms: Int64, _ emit: (SimulatedEvent) -> Void) {
        let pick = uniform(0, popularity.last ?? 0)
        var low = 0, high = popularity.count - 1
        while low < high {
            let middle = (low + high) / 2
            if popularity[middle] < pick { low = middle + 1 } else { high = middle }
        }
        let restaurant = low
        let profile = profiles[restaurant]
        let number = orderCount
        orderCount += 1
        let channel: OrderChannel = uniform() < 0.7 ? .delivery : .pickup
        let bearing_rad = uniform(0, 2 * Double.pi)
        let distance_m = Double(profile.deliveryRadius_m) * uniform(0.1, 0.9)
        let customer = clamped(offset(Point(lat_deg: profile.lat_deg, lon_deg: profile.lon_deg),
                                      north_m: distance_m * sin(bearing_rad), east_m: distance_m * cos(bearing_rad)))
        var order = Order(restaurant: restaurant, orderID: Identifier(validating: "o-\(settings.city.marketID)-\(number)")!,
                          channel: channel, ready_ms: 0, customer: customer, courier: nil)
        emit(.order(orderEvent(order, .placed, at: placed_ms)))

        let accepted_ms = placed_ms + Int64(uniform(20_000, 90_000))
        let oven = ovenFree_ms[restaurant].indices.min { ovenFree_ms[restaurant][$0] < ovenFree_ms[restaurant][$1] }!
        let started_ms = max(accepted_ms, ovenFree_ms[restaurant][oven])
        if uniform() < 0.03 || started_ms - placed_ms > Self.maxKitchenWait_ms {
            orders[number] = order
            schedule(.kitchen(order: number, .cancelled), at: placed_ms + Int64(uniform(30_000, 240_000)))
            return
        }
        order.ready_ms = started_ms + Int64(truePrep_s[restaurant] * uniform(0.8, 1.2) * 1_000)
        ovenFree_ms[restaurant][oven] = order.ready_ms
        orders[number] = order
        schedule(.kitchen(order: number, .started), at: started_ms)
        schedule(.kitchen(order: number, .ready), at: order.ready_ms)
        if channel == .delivery {
            schedule(.dispatch(order: number), at: started_ms)
        } else {
            schedule(.pickUp(order: number), at: order.ready_ms + Int64(uniform(60_000, 600_000)))
        }
    }

    /// Sends the nearest available courier to the restaurant, or tries again in 30 s; after
    /// `maxDispatchWait_ms` without one the order is cancelled.
    private mutating func dispatch(_ number: Int, at time_ms: Int64, _ emit: (SimulatedEvent) -> Void) {
        guard var order = orders[number] else { return }
        let profile = profiles[order.restaurant]
        let restaurant = Point(lat_deg: profile.lat_deg, lon_deg: profile.lon_deg)
        var best: (index: Int, distance_m: Double)?
        for index in couriers.indices where couriers[index].status == .available {
            let distance_m = distance(couriers[index].position(at: time_ms), restaurant)
            if distance_m < (best?.distance_m ?? Self.dispatchRadius_m) { best = (index, distance_m) }
        }
        guard let best else {
            if time_ms - order.ready_ms > Self.maxDispatchWait_ms {
                emit(.order(orderEvent(order, .cancelled, at: time_ms)))
                orders[number] = nil
            } else {
                schedule(.dispatch(order: number), at: time_ms + 30_000)
            }
            return
        }
        let arrive_ms = startLeg(best.index, to: restaurant, at: time_ms, status: .toRestaurant)
        order.courier = best.index
        orders[number] = order
        schedule(.pickUp(order: number), at: max(arrive_ms, order.ready_ms))
    }

    /// Moves a courier from where it is now towards `destination`; returns the arrival time.
    @discardableResult
    private mutating func startLeg(_ index: Int, to destination: Point, at time_ms: Int64, status: CourierStatus) -> Int64 {
        var courier = couriers[index]
        let origin = courier.position(at: time_ms)
        courier.origin = origin
        courier.destination = destination
        courier.depart_ms = time_ms
        courier.arrive_ms = time_ms + Int64(distance(origin, destination) * Self.routeFactor / courier.speed_mps * 1_000)
        courier.status = status
        couriers[index] = courier
        return courier.arrive_ms
    }

    private mutating func ping(_ index: Int, at time_ms: Int64) -> CourierPing {
        // An idle courier at the end of its leg takes a break now and then, or cruises on.
        switch couriers[index].status {
        case .available where time_ms >= couriers[index].arrive_ms:
            if uniform() < 0.01 {
                couriers[index].status = .offline
                couriers[index].offlineUntil_ms = time_ms + Int64(uniform(600_000, 3_600_000))
            } else {
                let here = couriers[index].position(at: time_ms)
                let target = uniform() < 0.3 ? placeInCity(spreadScale: 1).point : clamped(
                    offset(here, north_m: uniform(-1_500, 1_500), east_m: uniform(-1_500, 1_500)))
                startLeg(index, to: target, at: time_ms, status: .available)
            }
        case .offline where time_ms >= couriers[index].offlineUntil_ms:
            couriers[index].status = .available
        default:
            break
        }
        let courier = couriers[index]
        let position = courier.position(at: time_ms)
        let isMoving = time_ms < courier.arrive_ms && courier.status != .offline
        var heading_deg: Double?
        if isMoving {
            let north = courier.destination.lat_deg - courier.origin.lat_deg
            let east = (courier.destination.lon_deg - courier.origin.lon_deg) * cos(courier.origin.lat_deg * Double.pi / 180)
            let degrees = atan2(east, north) * 180 / Double.pi
            heading_deg = degrees < 0 ? degrees + 360 : degrees
        }
        return CourierPing(courierID: courierIDs[index], marketID: settings.city.marketID, lat_deg: position.lat_deg,
                           lon_deg: position.lon_deg, status: courier.status, eventTime_ms: time_ms,
                           speed_mps: isMoving ? courier.speed_mps : 0, heading_deg: heading_deg)
    }

    private mutating func orderEvent(_ order: Order, _ type: OrderEventType, at time_ms: Int64) -> OrderEvent {
        eventCount += 1
        return OrderEvent(eventID: Identifier(validating: "e-\(settings.city.marketID)-\(eventCount)")!,
                          restaurantID: profiles[order.restaurant].restaurantID, marketID: settings.city.marketID,
                          orderID: order.orderID, type: type, channel: order.channel, eventTime_ms: time_ms)
    }

    private mutating func schedule(_ wakeup: Wakeup, at time_ms: Int64) {
        scheduled += 1
        agenda.insert(Scheduled(time_ms: time_ms, sequence: scheduled, wakeup: wakeup))
    }

    /// Exponential gap of the Poisson arrivals at the rate of the moment.
    private mutating func nextArrivalGap_ms(at time_ms: Int64) -> Int64 {
        var rate = settings.ordersPerSecond
        if case .dailyCurve = settings.demand {
            let realLocalHour_h = Double(settings.start_ms) / 3_600_000 + settings.city.utcOffset_h
            let shift_h = settings.localHourAtStart.map { $0 - realLocalHour_h } ?? 0
            let localHour = (Double(time_ms) / 3_600_000 + settings.city.utcOffset_h + shift_h).truncatingRemainder(dividingBy: 24)
            rate *= Self.demandShare(localHour: localHour < 0 ? localHour + 24 : localHour)
        }
        return max(1, Int64(-log(1 - uniform()) * 1_000 / rate))
    }

    /// A point in a neighbourhood chosen by weight, or (sometimes) anywhere in the city.
    private mutating func placeInCity(spreadScale: Double) -> (point: Point, neighbourhood: String) {
        let city = settings.city
        if uniform() < city.suburbanShare {
            let point = Point(lat_deg: uniform(city.bounds.latMin_deg, city.bounds.latMax_deg),
                              lon_deg: uniform(city.bounds.lonMin_deg, city.bounds.lonMax_deg))
            return (point, city.name)
        }
        var pick = uniform(0, city.neighbourhoods.reduce(0) { $0 + $1.weight })
        var chosen = city.neighbourhoods[0]
        for neighbourhood in city.neighbourhoods {
            chosen = neighbourhood
            pick -= neighbourhood.weight
            if pick < 0 { break }
        }
        // The sum of three uniforms: about one spread standard deviation, no long tails.
        let spread_m = chosen.spread_m * spreadScale
        let north_m = (uniform(-1, 1) + uniform(-1, 1) + uniform(-1, 1)) * spread_m
        let east_m = (uniform(-1, 1) + uniform(-1, 1) + uniform(-1, 1)) * spread_m
        return (clamped(offset(Point(lat_deg: chosen.lat_deg, lon_deg: chosen.lon_deg), north_m: north_m, east_m: east_m)),
                chosen.name)
    }

    private func offset(_ point: Point, north_m: Double, east_m: Double) -> Point {
        Point(lat_deg: point.lat_deg + north_m / Earth.metresPerDegree,
              lon_deg: point.lon_deg + east_m / (Earth.metresPerDegree * cos(point.lat_deg * Double.pi / 180)))
    }

    private func clamped(_ point: Point) -> Point {
        let bounds = settings.city.bounds
        return Point(lat_deg: min(max(point.lat_deg, bounds.latMin_deg), bounds.latMax_deg),
                     lon_deg: min(max(point.lon_deg, bounds.lonMin_deg), bounds.lonMax_deg))
    }

    private func distance(_ a: Point, _ b: Point) -> Double {
        let north_m = (b.lat_deg - a.lat_deg) * Earth.metresPerDegree
        let east_m = (b.lon_deg - a.lon_deg) * Earth.metresPerDegree * cos((a.lat_deg + b.lat_deg) * Double.pi / 360)
        return (north_m * north_m + east_m * east_m).squareRoot()
    }

    private mutating func uniform(_ low: Double = 0, _ high: Double = 1) -> Double {
        low + (high - low) * Double(random.next() >> 11) / Double(1 << 53)
    }

    private static let nameStems = ["Forno", "Slice of", "Tony's", "Brick Oven", "Pie Society", "Little Napoli",
                                    "Dough Bros", "Sal's", "Detroit Square", "Sicilia", "Lupa"]
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
