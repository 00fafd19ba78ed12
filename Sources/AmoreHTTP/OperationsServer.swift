import AmoreCore
import AmoreEngine
import Hummingbird
import Logging
import Prometheus

/// The engine's HTTP face: `/healthz`, `/readyz`, `/metrics` (Prometheus text) and the
/// ranking queries, all answered without touching the engine's thread.
public enum OperationsServer {
    /// - Parameter onRunning: told the address the server listens on (port 0 picks one).
    public static func application(status: EngineStatus, registry: PrometheusCollectorRegistry,
                                   host: String, port: Int, logger: Logger,
                                   onRunning: @escaping @Sendable (String) -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        router.get("/healthz") { _, _ in
            status.isHealthy() ? plain(.ok, "ok\n") : plain(.serviceUnavailable, "engine loop stalled\n")
        }
        router.get("/readyz") { _, _ in
            status.isReady ? plain(.ok, "ready\n") : plain(.serviceUnavailable, "not ready: restaurant profiles not loaded yet, or stopping\n")
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("/v1/zones/:zone/rankings") { request, context in
            let query = request.uri.queryParameters
            return answer(status: status) { () throws(RankingQuery.Invalid) -> RankingQuery in
                try RankingQuery(zone: context.parameters.get("zone"), lat: nil, lon: nil,
                                 style: query.get("style"), mode: query.get("mode"), limit: query.get("limit"),
                                 precision: status.zonePrecision)
            }
        }
        router.get("/v1/rankings") { request, _ in
            let query = request.uri.queryParameters
            return answer(status: status) { () throws(RankingQuery.Invalid) -> RankingQuery in
                try RankingQuery(zone: nil, lat: query.get("lat"), lon: query.get("lon"),
                                 style: query.get("style"), mode: query.get("mode"), limit: query.get("limit"),
                                 precision: status.zonePrecision)
            }
        }
        return Application(router: router, configuration: .init(address: .hostname(host, port: port)),
                           onServerRunning: { channel in
                               let address = channel.localAddress
                               onRunning("\(address?.ipAddress ?? host):\(address?.port ?? port)")
                           }, logger: logger)
    }

    private static func answer(status: EngineStatus, _ parse: () throws(RankingQuery.Invalid) -> RankingQuery) -> Response {
        do {
            let query = try parse()
            guard let body = query.answer(from: status.board) else {
                return json(.notFound, #"{"error":"no ranking is known for zone \#(query.zone)"}"#)
            }
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: body)))
        } catch {
            var writer = JSONWriter(capacity: 128)
            writer.beginObject()
            writer.key("error"); writer.value(error.description)
            writer.key("parameter"); writer.value(error.parameter)
            writer.endObject()
            return Response(status: .badRequest, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: writer.bytes)))
        }
    }

    private static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
