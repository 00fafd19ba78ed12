import AmoreCore
import Hummingbird

/// What the query endpoints read: the lock-free ranking board, the restaurant profiles,
/// and the zone precision that maps a position to a zone. The engine gives its own;
/// a query-only process would give a board it follows.
public struct QuerySource: Sendable {
    public let board: RankingBoard
    public let restaurants: RestaurantDirectory
    public let zonePrecision: Int

    public init(board: RankingBoard, restaurants: RestaurantDirectory, zonePrecision: Int) {
        self.board = board
        self.restaurants = restaurants
        self.zonePrecision = zonePrecision
    }
}

/// The read-only query endpoints, one implementation for every server that answers them:
/// - `GET /v1/zones/{zone}/rankings`, `GET /v1/rankings?lat=&lon=`: a zone's ranking;
/// - `GET /v1/markets`, `/v1/markets/{market}/zones`, `/v1/markets/{market}/restaurants`:
///   the overview the map draws;
/// - `GET /map`: the live map page (every asset embedded; nothing fetched elsewhere).
/// Bad parameters answer 400 with `{"error", "parameter"}`; unknown zones and markets 404.
public enum QueryRoutes {
    public static func add<Context: RequestContext>(to router: Router<Context>, source: QuerySource) {
        router.get("/v1/zones/:zone/rankings") { request, context in
            let query = request.uri.queryParameters
            return answer { () throws(RankingQuery.Invalid) -> [UInt8]? in
                try RankingQuery(zone: context.parameters.get("zone"), lat: nil, lon: nil,
                                 style: query.get("style"), mode: query.get("mode"), limit: query.get("limit"),
                                 precision: source.zonePrecision).answer(from: source.board)
            } notFound: { "no ranking is known for zone \(context.parameters.get("zone") ?? "")" }
        }
        router.get("/v1/rankings") { request, _ in
            let query = request.uri.queryParameters
            var zone = ""
            return answer { () throws(RankingQuery.Invalid) -> [UInt8]? in
                let parsed = try RankingQuery(zone: nil, lat: query.get("lat"), lon: query.get("lon"),
                                              style: query.get("style"), mode: query.get("mode"), limit: query.get("limit"),
                                              precision: source.zonePrecision)
                zone = parsed.zone.description
                return parsed.answer(from: source.board)
            } notFound: { "no ranking is known for zone \(zone)" }
        }
        router.get("/v1/markets") { _, _ in
            json(.ok, MarketOverview.marketsDocument(board: source.board, restaurants: source.restaurants,
                                                     zonePrecision: source.zonePrecision))
        }
        router.get("/v1/markets/:market/zones") { request, context in
            let query = request.uri.queryParameters
            let market = context.parameters.get("market") ?? ""
            return answer { () throws(RankingQuery.Invalid) -> [UInt8]? in
                let parsed = try MarketOverview.ZonesQuery(market: market, style: query.get("style"), mode: query.get("mode"),
                                                           sinceAsOf_ms: query.get("since_as_of_ms"))
                return MarketOverview.zonesDocument(parsed, board: source.board, zonePrecision: source.zonePrecision)
            } notFound: { "no ranking is known for market \(market)" }
        }
        router.get("/v1/markets/:market/restaurants") { _, context in
            let market = context.parameters.get("market") ?? ""
            return answer { () throws(RankingQuery.Invalid) -> [UInt8]? in
                guard let id = Identifier(validating: market) else {
                    throw RankingQuery.Invalid(parameter: "market", message: "'\(market)' is not a market id")
                }
                return MarketOverview.restaurantsDocument(market: id, restaurants: source.restaurants)
            } notFound: { "no restaurant profile names market \(market)" }
        }
        router.get("/map") { _, _ in MapPage.response() }
    }

    /// 200 with the document, 404 when there is none, 400 naming the bad parameter.
    private static func answer(_ make: () throws(RankingQuery.Invalid) -> [UInt8]?, notFound: () -> String) -> Response {
        do {
            guard let body = try make() else {
                var writer = JSONWriter(capacity: 128)
                writer.beginObject()
                writer.key("error"); writer.value(notFound())
                writer.endObject()
                return json(.notFound, writer.bytes)
            }
            return json(.ok, body)
        } catch {
            var writer = JSONWriter(capacity: 128)
            writer.beginObject()
            writer.key("error"); writer.value(error.description)
            writer.key("parameter"); writer.value(error.parameter)
            writer.endObject()
            return json(.badRequest, writer.bytes)
        }
    }

    private static func json(_ status: HTTPResponse.Status, _ body: [UInt8]) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
