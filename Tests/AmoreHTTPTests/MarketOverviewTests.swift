import AmoreCore
import AmoreHTTP
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The map's data endpoints against a board written by hand, through Hummingbird's
/// testing client (the router as the server runs it, without a socket).
@Suite struct MarketOverviewTests {
    /// Hand-worked example (hand-off 60 s in every zone;
    /// delivery = max(queue + prep, courier) + hand-off + travel, carry-out = queue + prep):
    ///
    /// | zone (market, as of) | restaurant | queue | prep | courier | travel | delivery | carry-out | styles |
    /// |---|---|---|---|---|---|---|---|---|
    /// | 9v6kpd (austin, 1,000) | r-1 | 0 | 600 | 300 | 300 | 600+60+300 = 960 | 600 | neapolitan |
    /// |                        | r-2 | 300 | 600 | 200 | 120 | 900+60+120 = 1,080 | 900 | new_york, vegan |
    /// |                        | r-3 | 0 | 420 | 900 | 240 | 900+60+240 = 1,200 | 420 | vegan |
    /// | 9v6kpe (austin, 2,000) | r-2 | 300 | 600 | 200 | 120 | 1,080 | 900 | new_york, vegan |
    /// | 9vg4m0 (dallas, 5,000) | r-9 | 0 | 300 | 100 | 60 | 300+60+60 = 420 | 300 | detroit |
    ///
    /// So in austin: any style, delivery → 9v6kpd best 960 (3 match), 9v6kpe 1,080 (1);
    /// carry-out → 9v6kpd 420 (r-3), 9v6kpe 900; vegan, delivery → 9v6kpd 1,080 (r-2 is
    /// the first vegan entry; 2 match); vegan, carry-out → 9v6kpd 420; detroit → no
    /// match in either austin zone (best null). Newest as-of in austin: 2,000; since 2,000
    /// lists 9v6kpe alone.
    static func handWorkedBoard() throws -> QuerySource {
        let board = RankingBoard(maxEntriesPerZone: 10, maxZones: 16)
        let austin = try #require(board.register("austin"))
        let dallas = try #require(board.register("dallas"))
        func entry(_ id: Identifier, queue: Int32, prep: Int32, courier: Int32, travel: Int32, styles: PizzaStyles) throws -> RankedRestaurant {
            let carryOut = queue + prep
            return RankedRestaurant(restaurant: try #require(board.register(id)), deliveryETA_s: max(carryOut, courier) + 60 + travel,
                                    queueWait_s: queue, prep_s: prep, courierArrival_s: courier, handoff_s: 60, travel_s: travel,
                                    carryOutReady_s: carryOut, styles: styles, confidence: .high, reason: nil)
        }
        let r1 = try entry("r-1", queue: 0, prep: 600, courier: 300, travel: 300, styles: .neapolitan)
        let r2 = try entry("r-2", queue: 300, prep: 600, courier: 200, travel: 120, styles: [.newYork, .vegan])
        let r3 = try entry("r-3", queue: 0, prep: 420, courier: 900, travel: 240, styles: .vegan)
        let r9 = try entry("r-9", queue: 0, prep: 300, courier: 100, travel: 60, styles: .detroit)
        #expect([r1, r2, r3, r9].map(\.deliveryETA_s) == [960, 1_080, 1_200, 420])
        for (zone, market, asOf, entries) in [("9v6kpd", austin, Int64(1_000), [r1, r2, r3]), ("9v6kpe", austin, 2_000, [r2]),
                                              ("9vg4m0", dallas, 5_000, [r9])] {
            entries.withUnsafeBufferPointer {
                _ = board.publish(GeohashCell(zone)!, market: market, version: asOf, asOf_ms: asOf, entries: $0)
            }
        }
        let restaurants = RestaurantDirectory()
        for (id, market, lat) in [("r-1", "austin", 30.26), ("r-2", "austin", 30.27), ("r-3", "austin", 30.28), ("r-9", "dallas", 32.78)] {
            restaurants.update(RestaurantProfile(restaurantID: Identifier(validating: id)!, marketID: Identifier(validating: market)!,
                                                 name: "Pizzeria \(id)", lat_deg: lat, lon_deg: -97.74, styles: .vegan, ovens: 2,
                                                 defaultPrep_s: 600, deliveryRadius_m: 3_000, isOpen: true, updatedAt_ms: 1))
        }
        return QuerySource(board: board, restaurants: restaurants, zonePrecision: 6)
    }

    static func application(_ source: QuerySource) -> some ApplicationProtocol {
        let router = Router()
        QueryRoutes.add(to: router, source: source)
        return Application(router: router)
    }

    struct Summary: Equatable, CustomStringConvertible {
        let best: Int?
        let matching: Int
        init(_ best: Int?, _ matching: Int) { self.best = best; self.matching = matching }
        var description: String { "\(best.map(String.init) ?? "null")/\(matching)" }
    }

    /// zone id → (best_s, matching) from a zones document; plus its newest_as_of_ms.
    static func zones(_ body: ByteBuffer) throws -> (zones: [String: Summary], newest: Int) {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any])
        var zones: [String: Summary] = [:]
        for zone in json["zones"] as? [[String: Any]] ?? [] {
            zones[zone["zone_id"] as! String] = Summary(zone["best_s"] as? Int, zone["matching"] as! Int)
        }
        return (zones, json["newest_as_of_ms"] as? Int ?? -1)
    }

    @Test func eachZonesBestETAUnderEveryFilterIsTheHandWorkedOne() async throws {
        let app = Self.application(try Self.handWorkedBoard())
        try await app.test(.router) { client in
            let cases: [(query: String, want: [String: Summary])] = [
                ("", ["9v6kpd": Summary(960, 3), "9v6kpe": Summary(1_080, 1)]),
                ("?mode=carry_out", ["9v6kpd": Summary(420, 3), "9v6kpe": Summary(900, 1)]),
                ("?style=vegan", ["9v6kpd": Summary(1_080, 2), "9v6kpe": Summary(1_080, 1)]),
                ("?style=vegan&mode=carry_out", ["9v6kpd": Summary(420, 2), "9v6kpe": Summary(900, 1)]),
                ("?style=detroit", ["9v6kpd": Summary(nil, 0), "9v6kpe": Summary(nil, 0)]),
                ("?since_as_of_ms=2000", ["9v6kpe": Summary(1_080, 1)]),
                ("?since_as_of_ms=2001", [:]),
            ]
            for (query, want) in cases {
                try await client.execute(uri: "/v1/markets/austin/zones\(query)", method: .get) { response in
                    #expect(response.status == .ok, "\(query)")
                    let (zones, newest) = try Self.zones(response.body)
                    #expect(newest == 2_000, "\(query): newest as-of of the market, whatever the filter")
                    #expect(zones == want,
                            "\(query): \(zones) against \(want)")
                }
            }
            try await client.execute(uri: "/v1/markets", method: .get) { response in
                let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                let markets = json?["markets"] as? [[String: Any]] ?? []
                #expect(markets.map { "\($0["market_id"]!) \($0["zones"]!) \($0["newest_as_of_ms"]!) \($0["restaurants"]!)" }
                        == ["austin 2 2000 3", "dallas 1 5000 1"])
            }
            try await client.execute(uri: "/v1/markets/austin/restaurants", method: .get) { response in
                let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                let restaurants = json?["restaurants"] as? [[String: Any]] ?? []
                #expect(restaurants.map { "\($0["restaurant_id"]!) \($0["lat"]!)" } == ["r-1 30.26", "r-2 30.27", "r-3 30.28"])
            }
        }
    }

    @Test func badParametersAnswer400NamingTheParameterAndUnknownMarkets404() async throws {
        let app = Self.application(try Self.handWorkedBoard())
        try await app.test(.router) { client in
            for (uri, parameter) in [("/v1/markets/austin/zones?style=pepperoni", "style"),
                                     ("/v1/markets/austin/zones?mode=teleport", "mode"),
                                     ("/v1/markets/austin/zones?since_as_of_ms=-5", "since_as_of_ms"),
                                     ("/v1/markets/austin/zones?since_as_of_ms=soon", "since_as_of_ms"),
                                     ("/v1/markets/new%20york/zones", "market"),
                                     ("/v1/markets/new%20york/restaurants", "market")] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .badRequest, "\(uri)")
                    let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                    #expect(json?["parameter"] as? String == parameter, "\(uri): \(String(buffer: response.body))")
                }
            }
            for uri in ["/v1/markets/houston/zones", "/v1/markets/houston/restaurants"] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .notFound, "\(uri)")
                    #expect(String(buffer: response.body).contains("houston"))
                }
            }
        }
    }

    @Test func theMapPageIsSelfContainedAndUnderItsWeightBudget() async throws {
        let app = Self.application(try Self.handWorkedBoard())
        try await app.test(.router) { client in
            try await client.execute(uri: "/map", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                // The browser may fetch from this server only.
                #expect(response.headers[.contentSecurityPolicy]?.contains("default-src 'none'; connect-src 'self'") == true)
                let page = String(buffer: response.body)
                #expect(response.body.readableBytes <= 200 * 1_024, "\(response.body.readableBytes) bytes")
                #expect(!page.contains("http://") && !page.contains("https://"), "no asset from elsewhere")
                #expect(page.contains("<canvas"))
            }
        }
    }
}
