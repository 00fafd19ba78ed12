import AmoreClient
import AmoreCore
import HTTPTypes
import Hummingbird
import Synchronization

/// What the query endpoints read: the lock-free ranking board, the restaurant profiles,
/// the zone precision that maps a position to a zone, and (where the server follows the
/// rankings topic) every new version of a zone as it arrives.
public struct QuerySource: Sendable {
    public let board: RankingBoard
    public let restaurants: RestaurantDirectory
    public let zonePrecision: Int
    /// Each new version of a zone with its published JSON, in order; nil where the server
    /// has no such feed (the engine writes its board itself): streams then answer 501.
    public var updates: (@Sendable (GeohashCell) -> AsyncStream<ZoneUpdate>)?
    /// How long a request with `min_version` waits for this server to reach it.
    public var minVersionWait_ms = Self.defaultMinVersionWait_ms
    public static let defaultMinVersionWait_ms = 250
    /// How long a client or cache may keep an answer: as long as rankings take to refresh.
    public var cacheMaxAge_s = Int(MarketSettings().rankingResolution_ms / 1_000)
    /// Encoded answers reused while their zone's version holds.
    let answers = AnswerCache()

    public init(board: RankingBoard, restaurants: RestaurantDirectory, zonePrecision: Int,
                updates: (@Sendable (GeohashCell) -> AsyncStream<ZoneUpdate>)? = nil) {
        self.board = board
        self.restaurants = restaurants
        self.zonePrecision = zonePrecision
        self.updates = updates
    }
}

/// The read-only query endpoints, one implementation for every server that answers them
/// (the engine's HTTP endpoint and `amore serve`):
/// - `GET /v1/zones/{zone}/rankings`, `GET /v1/rankings?lat=&lon=`: a zone's ranking, with
///   its version in the body, in `ETag` and in `Amore-Version`; `If-None-Match` → 304;
///   `min_version=V` → never an older version: waits up to `minVersionWait_ms` for this
///   server to reach V, else 503 with `Retry-After`;
/// - `GET /v1/zones/{zone}/stream`: server-sent events, one per new version, in order;
/// - `GET /v1/markets`, `/v1/markets/{market}/zones`, `/v1/markets/{market}/restaurants`:
///   the overview the map draws; `GET /map`: the live map page.
/// Bad parameters answer 400 with `{"error", "parameter"}`; unknown zones and markets 404.
public enum QueryRoutes {
    public static let versionHeader = HTTPField.Name("Amore-Version")!

    public static func add<Context: RequestContext>(to router: Router<Context>, source: QuerySource) {
        router.get("/v1/zones/:zone/rankings") { request, context in
            let query = request.uri.queryParameters
            return await ranking(request, source) { () throws(RankingQuery.Invalid) -> RankingQuery in
                try RankingQuery(zone: pathParameter(context.parameters.get("zone")) ?? "", lat: nil, lon: nil,
                                 style: query.get("style"), mode: query.get("mode"), limit: query.get("limit"),
                                 precision: source.zonePrecision)
            }
        }
        router.get("/v1/rankings") { request, _ in
            let query = request.uri.queryParameters
            return await ranking(request, source) { () throws(RankingQuery.Invalid) -> RankingQuery in
                try RankingQuery(zone: nil, lat: query.get("lat"), lon: query.get("lon"),
                                 style: query.get("style"), mode: query.get("mode"), limit: query.get("limit"),
                                 precision: source.zonePrecision)
            }
        }
        router.get("/v1/zones/:zone/stream") { _, context in
            let text = pathParameter(context.parameters.get("zone")) ?? ""
            guard let zone = GeohashCell(text) else {
                return invalid(RankingQuery.Invalid(parameter: "zone", message: "'\(text)' is not a geohash"))
            }
            guard let updates = source.updates else {
                return error(.notImplemented, "this server writes its own rankings and has no stream of them: stream from amore serve")
            }
            return stream(zone: zone, updates: updates(zone), board: source.board)
        }
        router.get("/v1/markets") { _, _ in
            json(.ok, MarketOverview.marketsDocument(board: source.board, restaurants: source.restaurants,
                                                     zonePrecision: source.zonePrecision))
        }
        router.get("/v1/markets/:market/zones") { request, context in
            let query = request.uri.queryParameters
            let market = pathParameter(context.parameters.get("market")) ?? ""
            return document { () throws(RankingQuery.Invalid) -> [UInt8]? in
                let parsed = try MarketOverview.ZonesQuery(market: market, style: query.get("style"), mode: query.get("mode"),
                                                           sinceAsOf_ms: query.get("since_as_of_ms"))
                return MarketOverview.zonesDocument(parsed, board: source.board, zonePrecision: source.zonePrecision)
            } notFound: { "no ranking is known for market \(market)" }
        }
        router.get("/v1/markets/:market/restaurants") { _, context in
            let market = pathParameter(context.parameters.get("market")) ?? ""
            return document { () throws(RankingQuery.Invalid) -> [UInt8]? in
                guard let id = Identifier(validating: market) else {
                    throw RankingQuery.Invalid(parameter: "market", message: "'\(market)' is not a market id")
                }
                return MarketOverview.restaurantsDocument(market: id, restaurants: source.restaurants)
            } notFound: { "no restaurant profile names market \(market)" }
        }
        router.get("/map") { _, _ in MapPage.response() }
        // Read-only: any other method on these paths is 405 with `Allow` (not 404: the
        // resource exists).
        for path in ["/v1/zones/:zone/rankings", "/v1/rankings", "/v1/zones/:zone/stream", "/v1/markets",
                     "/v1/markets/:market/zones", "/v1/markets/:market/restaurants", "/map"] {
            for method in [HTTPRequest.Method.post, .put, .delete, .patch, .options, .trace, .connect, HTTPRequest.Method("QUERY")!] {
                router.on(RouterPath(path), method: method) { _, _ in
                    var response = error(.methodNotAllowed, "only GET (and HEAD) here")
                    response.headers[.allow] = "GET, HEAD"
                    return response
                }
            }
        }
    }

    /// A path parameter as sent, percent-decoded (`%3A` is `:`); nil when undecodable.
    static func pathParameter(_ raw: String?) -> String? {
        guard let raw else { return nil }
        guard raw.contains("%") else { return raw }
        var bytes: [UInt8] = []
        var utf8 = raw.utf8[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = utf8.popFirst().flatMap(hexValue), let low = utf8.popFirst().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    // MARK: Rankings

    private static func ranking(_ request: Request, _ source: QuerySource,
                                _ parse: () throws(RankingQuery.Invalid) -> RankingQuery) async -> Response {
        let query: RankingQuery
        let minVersion: Int64?
        do {
            query = try parse()
            minVersion = try RankingQuery.minVersion(request.uri.queryParameters.get("min_version"))
        } catch {
            return invalid(error)
        }
        if let minVersion, !(await reach(minVersion, of: query.zone, in: source)) {
            let held = version(of: query.zone, in: source.board)
            var response = error(.serviceUnavailable, "this server holds version \(held) of zone \(query.zone), older than min_version \(minVersion); retry (another server may have it)")
            response.headers[.retryAfter] = "1"
            if held > 0 { response.headers[versionHeader] = "\(held)" }
            return response
        }
        guard let (version, body) = source.answers.answer(query, board: source.board) else {
            return error(.notFound, "no ranking is known for zone \(query.zone)")
        }
        var headers: HTTPFields = [.eTag: "\"\(version)\"", versionHeader: "\(version)",
                                   .cacheControl: "public, max-age=\(source.cacheMaxAge_s)"]
        if let tags = request.headers[.ifNoneMatch], tags.split(separator: ",").contains(where: {
            let tag = $0.trimmingPrefix(" ").trimmingPrefix("W/")
            return tag == "\"\(version)\"" || tag == "*"
        }) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    /// Waits (checking every 5 ms, for at most `minVersionWait_ms`) until the board holds
    /// `minVersion` or later of `zone`.
    private static func reach(_ minVersion: Int64, of zone: GeohashCell, in source: QuerySource) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(source.minVersionWait_ms)
        while version(of: zone, in: source.board) < minVersion {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    private static func version(of zone: GeohashCell, in board: RankingBoard) -> Int64 {
        board.version(of: zone) ?? 0
    }

    /// `text/event-stream`: the zone's current ranking (when it has one), then every newer
    /// version as the server applies it: `id: <version>`, `event: ranking`, `data: <JSON>`.
    private static func stream(zone: GeohashCell, updates: AsyncStream<ZoneUpdate>, board: RankingBoard) -> Response {
        // Subscribed (above) before the current version is read: nothing falls in between.
        let current = board.snapshot(of: zone).map { ($0.version, OutputEncoder.encode(zone: zone, snapshot: $0, board: board)) }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                        body: ResponseBody { writer in
                            var sent: Int64 = 0
                            if let (version, document) = current {
                                try await writer.write(event(version: version, document: document))
                                sent = version
                            }
                            for await update in updates where update.version > sent {
                                try await writer.write(event(version: update.version, document: update.document))
                                sent = update.version
                            }
                            try await writer.finish(nil)
                        })
    }

    private static func event(version: Int64, document: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer(string: "id: \(version)\nevent: ranking\ndata: ")
        buffer.writeBytes(document)
        buffer.writeString("\n\n")
        return buffer
    }

    // MARK: Answers

    /// 200 with the document, 404 when there is none, 400 naming the bad parameter.
    private static func document(_ make: () throws(RankingQuery.Invalid) -> [UInt8]?, notFound: () -> String) -> Response {
        do {
            guard let body = try make() else { return error(.notFound, notFound()) }
            return json(.ok, body)
        } catch {
            return invalid(error)
        }
    }

    static func invalid(_ error: RankingQuery.Invalid) -> Response {
        var writer = JSONWriter(capacity: 128)
        writer.beginObject()
        writer.key("error"); writer.value(error.description)
        writer.key("parameter"); writer.value(error.parameter)
        writer.endObject()
        return json(.badRequest, writer.bytes)
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        var writer = JSONWriter(capacity: 128)
        writer.beginObject()
        writer.key("error"); writer.value(message)
        writer.endObject()
        return json(status, writer.bytes)
    }

    private static func json(_ status: HTTPResponse.Status, _ body: [UInt8]) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Encoded ranking answers by zone and filter, reused while the zone's version holds: a
/// hot zone (many customers in one neighbourhood) is encoded once per version, not once
/// per request. Checking costs the board's version read (a few loads) and one map lookup
/// under a mutex; the answer's bytes are shared, not copied. Measured with
/// `Benchmarks/serve-vs-redis` (docs/serving.md).
final class AnswerCache: Sendable {
    struct Key: Hashable {
        let zone: GeohashCell
        let style: UInt16
        let carryOut: Bool
        let limit: Int
    }

    private let entries = Mutex<[Key: (version: Int64, body: ByteBuffer)]>([:])
    /// Past this many answers the cache starts again (zones × filters in use are far fewer).
    let capacity = 65_536

    /// The query's answer with its zone's version; nil when the zone has no ranking.
    func answer(_ query: RankingQuery, board: RankingBoard) -> (version: Int64, body: ByteBuffer)? {
        guard let current = board.version(of: query.zone) else { return nil }
        let key = Key(zone: query.zone, style: query.style?.rawValue ?? 0, carryOut: query.mode == .carryOut, limit: query.limit)
        if let held = entries.withLock({ $0[key] }), held.version == current { return held }
        guard let (version, bytes) = query.answer(from: board) else { return nil }
        let fresh = (version: version, body: ByteBuffer(bytes: bytes))
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            if (entries[key]?.version ?? .min) < version { entries[key] = fresh }
        }
        return fresh
    }
}
