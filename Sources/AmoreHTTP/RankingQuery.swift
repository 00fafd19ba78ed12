import AmoreCore

/// A ranking request (`GET /v1/zones/{zone}/rankings`, `GET /v1/rankings?lat=&lon=`),
/// parsed and checked, answered from the lock-free ranking board.
public struct RankingQuery: Sendable, Equatable {
    public enum Mode: String, Sendable {
        /// Fastest delivery first (the published order).
        case delivery
        /// Soonest carry-out first.
        case carryOut = "carry_out"
    }

    public var zone: GeohashCell
    public var style: PizzaStyles?
    public var mode = Mode.delivery
    public var limit = 50

    /// A request's parameters that are wrong: which one and why.
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let parameter: String
        public let message: String
        public var description: String { "\(parameter): \(message)" }
    }

    /// From a zone id (geohash) or a position, plus the optional `style`, `mode`, `limit`.
    public init(zone zoneText: String?, lat: String?, lon: String?, style: String?, mode: String?, limit: String?,
                precision: Int) throws(Invalid) {
        if let zoneText {
            guard let zone = GeohashCell(zoneText) else {
                throw Invalid(parameter: "zone", message: "'\(zoneText)' is not a geohash (characters 0-9 b-h j k m n p-z, 1 to 12 of them)")
            }
            self.zone = zone
        } else {
            let lat_deg = try Self.number("lat", lat, in: -90...90)
            let lon_deg = try Self.number("lon", lon, in: -180...180)
            zone = GeohashCell(lat_deg: lat_deg, lon_deg: lon_deg, precision: precision)
        }
        if let style {
            guard let bit = PizzaStyles.names.firstIndex(where: { "\($0)" == style }) else {
                throw Invalid(parameter: "style", message: "'\(style)' is not one of \(PizzaStyles.names.map { "\($0)" }.joined(separator: ", "))")
            }
            self.style = PizzaStyles(rawValue: 1 << bit)
        }
        if let mode {
            guard let parsed = Mode(rawValue: mode) else {
                throw Invalid(parameter: "mode", message: "'\(mode)' is not delivery or carry_out")
            }
            self.mode = parsed
        }
        if let limit {
            guard let parsed = Int(limit), (1...50).contains(parsed) else {
                throw Invalid(parameter: "limit", message: "'\(limit)' is not a whole number from 1 to 50")
            }
            self.limit = parsed
        }
    }

    private static func number(_ name: String, _ text: String?, in range: ClosedRange<Double>) throws(Invalid) -> Double {
        guard let text else { throw Invalid(parameter: name, message: "missing (give zone, or lat and lon)") }
        guard let value = Double(text), value.isFinite, range.contains(value) else {
            throw Invalid(parameter: name, message: "'\(text)' is not a number in \(range.lowerBound)...\(range.upperBound) degrees")
        }
        return value
    }

    /// The zone's ranking as published (same JSON as the rankings topic), filtered and
    /// ordered as asked; nil when no ranking is known for the zone.
    public func answer(from board: RankingBoard) -> [UInt8]? {
        guard let snapshot = board.snapshot(of: zone) else { return nil }
        var ranking = ZoneRanking(zone: zone, snapshot: snapshot, board: board)
        if let style { ranking.entries.removeAll { !$0.styles.contains(style) } }
        if mode == .carryOut {
            // Stable, so ties keep the delivery order.
            ranking.entries = ranking.entries.enumerated().sorted {
                ($0.element.carryOutReady_s, $0.offset) < ($1.element.carryOutReady_s, $1.offset)
            }.map(\.element)
        }
        ranking.entries = Array(ranking.entries.prefix(limit))
        return OutputEncoder.encode(ranking)
    }
}
