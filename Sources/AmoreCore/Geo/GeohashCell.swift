#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A geohash cell (Niemeyer's base-32 geohash), held as bits: no allocation, cheap to
/// hash and compare; `description` is the usual string ("9v6kpd"). Zones are cells of
/// a configured precision (6 by default: about 1.2 km × 0.6 km).
public struct GeohashCell: Hashable, Sendable, CustomStringConvertible {
    public static let maxPrecision = 12
    static let alphabet: [UInt8] = Array("0123456789bcdefghjkmnpqrstuvwxyz".utf8)

    /// 5 bits per character, first character in the highest used bits.
    public let bits: UInt64
    /// Characters, 1...12.
    public let precision: Int

    public init(bits: UInt64, precision: Int) {
        precondition((1...Self.maxPrecision).contains(precision), "geohash precision is 1...12")
        self.bits = bits & ((1 << (5 * UInt64(precision))) - 1)
        self.precision = precision
    }

    /// The cell containing a point (lat in [-90, 90], lon in [-180, 180]).
    public init(lat_deg: Double, lon_deg: Double, precision: Int) {
        var latRange = (-90.0, 90.0)
        var lonRange = (-180.0, 180.0)
        var bits: UInt64 = 0
        // Bits alternate longitude, latitude, starting with longitude.
        for bit in 0..<(5 * precision) {
            bits <<= 1
            if bit % 2 == 0 {
                let middle = (lonRange.0 + lonRange.1) / 2
                if lon_deg >= middle { bits |= 1; lonRange.0 = middle } else { lonRange.1 = middle }
            } else {
                let middle = (latRange.0 + latRange.1) / 2
                if lat_deg >= middle { bits |= 1; latRange.0 = middle } else { latRange.1 = middle }
            }
        }
        self.init(bits: bits, precision: precision)
    }

    /// nil unless `text` is 1...12 geohash characters.
    public init?(_ text: String) {
        guard (1...Self.maxPrecision).contains(text.utf8.count) else { return nil }
        var bits: UInt64 = 0
        for byte in text.utf8 {
            guard let value = Self.alphabet.firstIndex(of: byte) else { return nil }
            bits = bits << 5 | UInt64(value)
        }
        self.init(bits: bits, precision: text.utf8.count)
    }

    public var description: String {
        String(decoding: (0..<precision).map { index in
            Self.alphabet[Int((bits >> (5 * UInt64(precision - 1 - index))) & 31)]
        }, as: UTF8.self)
    }

    /// The cell's bounds in degrees.
    public var bounds: (latMin: Double, latMax: Double, lonMin: Double, lonMax: Double) {
        var latRange = (-90.0, 90.0)
        var lonRange = (-180.0, 180.0)
        let count = 5 * precision
        for bit in 0..<count {
            let set = (bits >> UInt64(count - 1 - bit)) & 1 == 1
            if bit % 2 == 0 {
                let middle = (lonRange.0 + lonRange.1) / 2
                if set { lonRange.0 = middle } else { lonRange.1 = middle }
            } else {
                let middle = (latRange.0 + latRange.1) / 2
                if set { latRange.0 = middle } else { latRange.1 = middle }
            }
        }
        return (latRange.0, latRange.1, lonRange.0, lonRange.1)
    }

    /// The centre of the cell, where zone ETAs are measured to.
    public var center: (lat_deg: Double, lon_deg: Double) {
        let b = bounds
        return ((b.latMin + b.latMax) / 2, (b.lonMin + b.lonMax) / 2)
    }

    public enum Direction: CaseIterable, Sendable {
        case north, northEast, east, southEast, south, southWest, west, northWest
    }

    /// The adjacent cell of the same precision; longitude wraps at ±180, and there is no
    /// cell beyond a pole (nil).
    public func neighbour(_ direction: Direction) -> GeohashCell? {
        let b = bounds
        let height = b.latMax - b.latMin
        let width = b.lonMax - b.lonMin
        let (dLat, dLon): (Double, Double) = switch direction {
        case .north: (1, 0)
        case .northEast: (1, 1)
        case .east: (0, 1)
        case .southEast: (-1, 1)
        case .south: (-1, 0)
        case .southWest: (-1, -1)
        case .west: (0, -1)
        case .northWest: (1, -1)
        }
        let lat = (b.latMin + b.latMax) / 2 + dLat * height
        guard lat > -90, lat < 90 else { return nil }
        var lon = (b.lonMin + b.lonMax) / 2 + dLon * width
        if lon >= 180 { lon -= 360 }
        if lon < -180 { lon += 360 }
        return GeohashCell(lat_deg: lat, lon_deg: lon, precision: precision)
    }

    /// All existing neighbours (8, fewer at the poles).
    public var neighbours: [GeohashCell] { Direction.allCases.compactMap { neighbour($0) } }
}

/// The sphere every distance here is measured on.
public enum Earth {
    /// The mean radius (IUGG R1).
    @inlinable public static var radius_m: Double { 6_371_008.8 }
    /// Along a meridian (and along the equator); computed, so optimised code folds it.
    @inlinable public static var metresPerDegree: Double { radius_m * Double.pi / 180 }
}

/// Great-circle distance on a sphere (haversine formula).
/// - Parameter radius_m: the Earth's mean radius unless given.
public func greatCircleDistance_m(lat1_deg: Double, lon1_deg: Double, lat2_deg: Double, lon2_deg: Double,
                                  radius_m: Double = Earth.radius_m) -> Double {
    let toRadians = Double.pi / 180
    let dLat = (lat2_deg - lat1_deg) * toRadians
    let dLon = (lon2_deg - lon1_deg) * toRadians
    let a = sin(dLat / 2) * sin(dLat / 2)
        + cos(lat1_deg * toRadians) * cos(lat2_deg * toRadians) * sin(dLon / 2) * sin(dLon / 2)
    return 2 * radius_m * asin(min(1, a.squareRoot()))
}
