import AmoreCore
import Testing

@Suite struct GeoTests {
    /// Published vectors: Wikipedia's "Geohash" article (ezs42 for 42.6, -5.6; u4pruydqqvj
    /// for 57.64911, 10.40744 at Jutland's tip) and the original geohash.org example.
    @Test(arguments: [(42.6, -5.6, 5, "ezs42"), (57.64911, 10.40744, 11, "u4pruydqqvj")])
    func encodesPublishedVectors(lat: Double, lon: Double, precision: Int, expected: String) {
        #expect(GeohashCell(lat_deg: lat, lon_deg: lon, precision: precision).description == expected)
    }

    @Test func decodesEzs42AsWikipediaDoes() throws {
        // Wikipedia: ezs42 decodes to 42.605 ± 0.022, -5.603 ± 0.022.
        let cell = try #require(GeohashCell("ezs42"))
        #expect(abs(cell.center.lat_deg - 42.605) < 0.001)
        #expect(abs(cell.center.lon_deg - -5.603) < 0.001)
        let b = cell.bounds
        #expect(abs((b.latMax - b.latMin) / 2 - 0.022) < 0.001)
        #expect(abs((b.lonMax - b.lonMin) / 2 - 0.022) < 0.001)
    }

    @Test func parsesAndPrintsTheSameCell() throws {
        for text in ["9", "9v", "9v6kpd", "u4pruydqqvj", "zzzzzzzzzzzz", "000000000000"] {
            #expect(GeohashCell(text)?.description == text)
        }
        #expect(GeohashCell("") == nil)
        #expect(GeohashCell("9v6kpa") == nil, "'a' is not in the alphabet")
        #expect(GeohashCell("9v6kpd9v6kpd9") == nil, "13 characters")
    }

    @Test func pointsLieInsideTheirCell() {
        var random = SplitMix64(seed: 6)
        for _ in 0..<2_000 {
            let lat = Double.random(in: -89.9...89.9, using: &random)
            let lon = Double.random(in: -179.9...179.9, using: &random)
            let cell = GeohashCell(lat_deg: lat, lon_deg: lon, precision: Int.random(in: 1...12, using: &random))
            let b = cell.bounds
            #expect(b.latMin <= lat && lat <= b.latMax && b.lonMin <= lon && lon <= b.lonMax)
            #expect(GeohashCell(cell.description) == cell)
        }
    }

    /// Each neighbour shares the right edge with the cell (longitude wrapping at ±180).
    @Test func neighboursShareAnEdge() throws {
        var random = SplitMix64(seed: 7)
        for _ in 0..<1_000 {
            let cell = GeohashCell(lat_deg: Double.random(in: -80...80, using: &random),
                                   lon_deg: Double.random(in: -180..<180, using: &random), precision: Int.random(in: 2...9, using: &random))
            let b = cell.bounds
            let north = try #require(cell.neighbour(.north)).bounds
            #expect(north.latMin == b.latMax && north.lonMin == b.lonMin && north.lonMax == b.lonMax)
            let south = try #require(cell.neighbour(.south)).bounds
            #expect(south.latMax == b.latMin && south.lonMin == b.lonMin)
            let east = try #require(cell.neighbour(.east)).bounds
            #expect(east.latMin == b.latMin && (east.lonMin == b.lonMax || (b.lonMax == 180 && east.lonMin == -180)))
            let west = try #require(cell.neighbour(.west)).bounds
            #expect(west.latMin == b.latMin && (west.lonMax == b.lonMin || (b.lonMin == -180 && west.lonMax == 180)))
            #expect(Set(cell.neighbours).count == 8)
            #expect(!cell.neighbours.contains(cell))
        }
        #expect(GeohashCell("zzzzzz")!.neighbour(.north) == nil, "nothing beyond the North Pole")
    }

    /// Rosetta Code's haversine task: Nashville BNA (36.12, -86.67) to Los Angeles LAX
    /// (33.94, -118.40) is 2887.2599506071106 km with R = 6372.8 km.
    @Test func haversineMatchesRosettaCode() {
        let distance = greatCircleDistance_m(lat1_deg: 36.12, lon1_deg: -86.67, lat2_deg: 33.94, lon2_deg: -118.40, radius_m: 6_372_800)
        #expect(abs(distance - 2_887_259.9506071106) < 0.01)
    }

    /// City pairs with the mean Earth radius: London–Paris ≈ 343.5 km; a degree of
    /// latitude ≈ 111.2 km; antipodes are half the circumference.
    @Test func knownDistances() {
        let londonParis = greatCircleDistance_m(lat1_deg: 51.5074, lon1_deg: -0.1278, lat2_deg: 48.8566, lon2_deg: 2.3522)
        #expect(abs(londonParis - 343_500) < 1_000, "\(londonParis)")
        let degree = greatCircleDistance_m(lat1_deg: 30, lon1_deg: -97, lat2_deg: 31, lon2_deg: -97)
        #expect(abs(degree - 111_195) < 10, "\(degree)")
        let antipodes = greatCircleDistance_m(lat1_deg: 0, lon1_deg: 0, lat2_deg: 0, lon2_deg: 180)
        #expect(abs(antipodes - Double.pi * 6_371_008.8) < 0.01)
        #expect(greatCircleDistance_m(lat1_deg: 30.2672, lon1_deg: -97.7431, lat2_deg: 30.2672, lon2_deg: -97.7431) == 0)
    }
}
