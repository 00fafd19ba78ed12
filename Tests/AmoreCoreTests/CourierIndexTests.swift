@testable import AmoreCore
import Foundation
import Testing

/// The grid search for the nearest available courier agrees with a scan of every courier.
@Suite struct CourierIndexTests {
    struct Held {
        var lat_deg: Float
        var lon_deg: Float
        var status: CourierStatus
        var lastPing_ms: Int64
    }

    static func bruteForce(_ couriers: [Held], lat_deg: Double, lon_deg: Double, cosLat: Double, within radius_m: Double,
                           freshSince_ms: Int64) -> Double? {
        var best: Double?
        for courier in couriers where courier.status == .available && courier.lastPing_ms >= freshSince_ms {
            let dy = (Double(courier.lat_deg) - lat_deg) * Earth.metresPerDegree
            let dx = (Double(courier.lon_deg) - lon_deg) * Earth.metresPerDegree * cosLat
            let distance_m = (dx * dx + dy * dy).squareRoot()
            if distance_m <= radius_m && distance_m < (best ?? .infinity) { best = distance_m }
        }
        return best
    }

    /// Dense clusters, a sparse spread, couriers going busy, moving and going stale;
    /// points inside, between and far outside the clusters, with small and large radii.
    @Test(arguments: [UInt64(1), 2, 3])
    func nearestAvailableMatchesAScanOfEveryCourier(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * Double(random.next() >> 11) / Double(1 << 53) }
        var index = CourierIndex()
        var held: [Identifier: Held] = [:]
        let statuses: [CourierStatus] = [.available, .available, .available, .toRestaurant, .delivering, .offline]
        for round in 0..<4 {
            for number in 0..<3_000 {
                // Two thirds in a 1 km cluster, the rest over 40 km.
                let spread = number % 3 == 2 ? 0.2 : 0.005
                let ping = CourierPing(courierID: Identifier(validating: "c-\(number)")!, marketID: "m",
                                       lat_deg: 30.27 + uniform(-spread, spread), lon_deg: -97.74 + uniform(-spread, spread),
                                       status: statuses[Int(uniform(0, 6))], eventTime_ms: Int64(round * 10_000 + number))
                // A quarter skip this round's ping and go stale.
                if round > 0 && uniform(0, 1) < 0.25 { continue }
                #expect(index.apply(ping, capacity: 10_000) == .applied)
                held[ping.courierID] = Held(lat_deg: Float(ping.lat_deg), lon_deg: Float(ping.lon_deg), status: ping.status,
                                            lastPing_ms: ping.eventTime_ms)
            }
            let everyone = Array(held.values)
            let freshSince_ms = Int64(round * 10_000)
            for _ in 0..<300 {
                let far = uniform(0, 1) < 0.2
                let lat = 30.27 + uniform(-0.3, 0.3) * (far ? 3 : 0.1)
                let lon = -97.74 + uniform(-0.3, 0.3) * (far ? 3 : 0.1)
                let cosLat = cos(lat * .pi / 180)
                let radius_m = [150.0, 2_000, 12_000, 80_000][Int(uniform(0, 4))]
                let found = index.nearestAvailable(lat_deg: lat, lon_deg: lon, cosLat: cosLat, within: radius_m, freshSince_ms: freshSince_ms)
                let expected = Self.bruteForce(everyone, lat_deg: lat, lon_deg: lon, cosLat: cosLat, within: radius_m,
                                               freshSince_ms: freshSince_ms)
                #expect(found == expected, "at \(lat),\(lon) within \(radius_m) m")
            }
        }
    }

    /// Couriers a continent apart make the occupancy bitmap's box too large to keep: it
    /// switches off and searches still find the nearest one (and nothing in empty cells).
    @Test func couriersFarApartAreStillFound() {
        var index = CourierIndex()
        let places = [(30.27, -97.74), (-33.87, 151.21), (30.2705, -97.7405), (51.5, -0.12)]
        for (number, place) in places.enumerated() {
            let ping = CourierPing(courierID: Identifier(validating: "c\(number)")!, marketID: "m", lat_deg: place.0,
                                   lon_deg: place.1, status: .available, eventTime_ms: 1_000)
            #expect(index.apply(ping, capacity: 10) == .applied)
        }
        let austin = index.nearestAvailable(lat_deg: 30.2706, lon_deg: -97.7406, cosLat: cos(30.27 * .pi / 180),
                                            within: 5_000, freshSince_ms: 0)
        #expect(austin != nil && austin! < 20)
        let sydney = index.nearestAvailable(lat_deg: -33.87, lon_deg: 151.2101, cosLat: cos(33.87 * .pi / 180),
                                            within: 1_000, freshSince_ms: 0)
        #expect(sydney != nil && sydney! < 15)
        #expect(index.nearestAvailable(lat_deg: 0, lon_deg: 0, cosLat: 1, within: 50_000, freshSince_ms: 0) == nil)
    }

    @Test func anEmptyIndexFindsNobody() {
        #expect(CourierIndex().nearestAvailable(lat_deg: 30, lon_deg: -97, cosLat: 0.87, within: 5_000, freshSince_ms: 0) == nil)
    }
}
