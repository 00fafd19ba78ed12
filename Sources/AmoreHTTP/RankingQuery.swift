import AmoreCore

/// A ranking request (`GET /v1/zones/{zone}/rankings`, `GET /v1/rankings?lat=&lon=`),
/// parsed and checked, answered from the lock-free ranking board.
public struct RankingQuery: Sendable, Equatable {
    public typealias Mode = RankingMode

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
        self.style = try Self.style(style)
        self.mode = try Self.mode(mode)
        if let limit {
            guard let parsed = Int(limit), (1...50).contains(parsed) else {
                throw Invalid(parameter: "limit", message: "'\(limit)' is not a whole number from 1 to 50")
            }
            self.limit = parsed
        }
    }

    /// The `style` parameter: one of the contract's pizza styles, or none.
    static func style(_ text: String?) throws(Invalid) -> PizzaStyles? {
        guard let text else { return nil }
        guard let bit = PizzaStyles.names.firstIndex(where: { "\($0)" == text }) else {
            throw Invalid(parameter: "style", message: "'\(text)' is not one of \(PizzaStyles.names.map { "\($0)" }.joined(separator: ", "))")
        }
        return PizzaStyles(rawValue: 1 << bit)
    }

    /// The `mode` parameter: delivery unless given.
    static func mode(_ text: String?) throws(Invalid) -> Mode {
        guard let text else { return .delivery }
        guard let parsed = Mode(rawValue: text) else {
            throw Invalid(parameter: "mode", message: "'\(text)' is not delivery or carry_out")
        }
        return parsed
    }

    private static func number(_ name: String, _ text: String?, in range: ClosedRange<Double>) throws(Invalid) -> Double {
        guard let text else { throw Invalid(parameter: name, message: "missing (give zone, or lat and lon)") }
        guard let value = Double(text), value.isFinite, range.contains(value) else {
            throw Invalid(parameter: name, message: "'\(text)' is not a number in \(range.lowerBound)...\(range.upperBound) degrees")
        }
        return value
    }

    /// The zone's ranking as published (same JSON as the rankings topic), filtered and
    /// ordered as asked, with the zone's version; nil when no ranking is known for it.
    public func answer(from board: RankingBoard) -> (version: Int64, body: [UInt8])? {
        guard let snapshot = board.snapshot(of: zone) else { return nil }
        return (snapshot.version, OutputEncoder.encode(ZoneRanking(zone: zone, snapshot: snapshot, board: board).filtered(filter)))
    }

    /// The style, mode and limit asked for.
    public var filter: RankingFilter { RankingFilter(style: style, mode: mode, limit: limit) }

    /// The `min_version` parameter: the highest version of the zone the client has seen.
    public static func minVersion(_ text: String?) throws(Invalid) -> Int64? {
        guard let text else { return nil }
        guard let value = Int64(text), value >= 0 else {
            throw Invalid(parameter: "min_version", message: "'\(text)' is not a version (a whole number >= 0, as an answer's version)")
        }
        return value
    }
}
