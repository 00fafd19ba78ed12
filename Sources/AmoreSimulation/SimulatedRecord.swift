import AmoreCore
import Foundation

/// The input topic a record belongs on (its name is configured elsewhere).
public enum InputTopic: String, Sendable, CaseIterable {
    case restaurants, orders, couriers
}

/// A Kafka record as the contracts say a producer writes it: JSON value, keyed by market
/// (orders, pings) or restaurant (profiles), CreateTime = event time.
public struct SimulatedRecord: Sendable, Equatable {
    public var topic: InputTopic
    public var key: [UInt8]
    public var value: [UInt8]
    public var timestamp_ms: Int64
    /// Set on a record broken on purpose: the rejection reason the engine must give it.
    /// Producers send it as the `amore-malformed` header, so a dead letter can be told
    /// from a deliberate one.
    public var malformed: EventRejection.Reason?

    public static let malformedHeader = "amore-malformed"

    public init(topic: InputTopic, key: [UInt8], value: [UInt8], timestamp_ms: Int64, malformed: EventRejection.Reason? = nil) {
        self.topic = topic
        self.key = key
        self.value = value
        self.timestamp_ms = timestamp_ms
        self.malformed = malformed
    }

    public init(_ profile: RestaurantProfile) {
        self.init(topic: .restaurants, key: Array(profile.restaurantID.description.utf8),
                  value: EventEncoder.encode(profile), timestamp_ms: profile.updatedAt_ms)
    }

    public init(_ event: SimulatedEvent) {
        switch event {
        case .order(let order):
            self.init(topic: .orders, key: Array(order.marketID.description.utf8),
                      value: EventEncoder.encode(order), timestamp_ms: order.eventTime_ms)
        case .ping(let ping):
            self.init(topic: .couriers, key: Array(ping.marketID.description.utf8),
                      value: EventEncoder.encode(ping), timestamp_ms: ping.eventTime_ms)
        }
    }
}

/// Several markets simulated together, as the records a producer would write, with an
/// optional fraction of records broken on purpose (dead-letter demonstrations).
public struct CitySimulation: Sendable {
    public private(set) var markets: [MarketSimulator]
    public let malformedFraction: Double
    private var random: SplitMix64
    private var malformedCount = 0

    /// - Parameter malformedFraction: the share of order and ping records replaced by a
    ///   broken one (each of five kinds in turn), in [0, 1].
    public init(markets: [MarketSimulator.Settings], malformedFraction: Double = 0, seed: UInt64 = 42) {
        precondition((0...1).contains(malformedFraction), "malformed fraction \(malformedFraction) is not in [0, 1]")
        self.markets = markets.map(MarketSimulator.init(settings:))
        self.malformedFraction = malformedFraction
        random = SplitMix64(seed: seed ^ 0x6D61_6C66_6F72_6D65)
    }

    public var now_ms: Int64 { markets.map(\.now_ms).min() ?? 0 }

    /// Every market's restaurant profiles.
    public var profileRecords: [SimulatedRecord] { markets.flatMap(\.profiles).map(SimulatedRecord.init) }

    /// Emits every record before `until_ms`: time order within each market, markets
    /// interleaved a second at a time.
    public mutating func run(until until_ms: Int64, _ emit: (SimulatedRecord) -> Void) {
        var step_ms = now_ms
        while step_ms < until_ms {
            step_ms = min(until_ms, step_ms + 1_000)
            for index in markets.indices {
                var events: [SimulatedEvent] = []
                markets[index].run(until: step_ms) { events.append($0) }
                for event in events { emit(record(event)) }
            }
        }
    }

    private mutating func record(_ event: SimulatedEvent) -> SimulatedRecord {
        let record = SimulatedRecord(event)
        guard malformedFraction > 0, Double(random.next() >> 11) / Double(1 << 53) < malformedFraction else { return record }
        malformedCount += 1
        var broken = record
        let text = String(decoding: record.value, as: UTF8.self)
        switch (malformedCount % 5, event) {
        case (0, _):
            broken.value = Array(record.value.prefix(record.value.count / 2))
            broken.malformed = .malformedJSON
        case (1, _):
            broken.key = Array("atlantis".utf8)
            broken.malformed = .keyMismatch
        case (2, .ping(var ping)):
            ping.lat_deg = 95
            broken.value = EventEncoder.encode(ping)
            broken.malformed = .outOfRange
        case (2, .order(let order)):
            broken.value = Array(text.replacingOccurrences(of: #""type":"\#(order.type.name)""#, with: #""type":"teleported""#).utf8)
            broken.malformed = .unknownEnumValue
        default:
            broken.value = Array(text.replacingOccurrences(of: #","event_time_ms":\#(event.eventTime_ms)"#, with: "").utf8)
            broken.malformed = .missingField
        }
        return broken
    }
}
