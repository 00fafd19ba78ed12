import AmoreCore
import AmoreEngine
import Hummingbird
import Logging
import Prometheus

/// The engine's HTTP face: `/healthz`, `/readyz`, `/metrics` (Prometheus text) and the
/// query endpoints (`QueryRoutes`: rankings, market overviews, the live map), all
/// answered without touching the engine's thread.
public enum OperationsServer {
    /// - Parameter onRunning: told the address the server listens on (port 0 picks one).
    public static func application(status: EngineStatus, registry: PrometheusCollectorRegistry,
                                   host: String, port: Int, logger: Logger,
                                   onRunning: @escaping @Sendable (String) -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        // What /readyz says, as a metric: the not-ready alert and the dashboard read it.
        let ready = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "amore", metricName: "ready", unitName: "state",
            helpText: "1 when the restaurant profiles are loaded, Kafka is reachable and the engine is not stopping"))
        router.get("/healthz") { _, _ in
            status.isHealthy() ? plain(.ok, "ok\n") : plain(.serviceUnavailable, "engine loop stalled\n")
        }
        router.get("/readyz") { _, _ in
            // Restoring pairs do not make the instance unready (it holds its partitions
            // and serves the rest); they are listed so that an operator sees which
            // markets wait for fresh rankings and why.
            let restoring = status.notServing.map { "not yet serving fresh rankings: \($0)\n" }.joined()
            if let reason = status.notReadyReason { return plain(.serviceUnavailable, "not ready: \(reason)\n" + restoring) }
            return plain(.ok, "ready\n" + restoring)
        }
        router.get("/metrics") { _, _ in
            ready.set(to: status.isReady ? 1 : 0)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        QueryRoutes.add(to: router, source: QuerySource(board: status.board, restaurants: status.restaurants,
                                                        zonePrecision: status.zonePrecision))
        return Application(router: router, configuration: .init(address: .hostname(host, port: port)),
                           onServerRunning: { channel in
                               let address = channel.localAddress
                               onRunning("\(address?.ipAddress ?? host):\(address?.port ?? port)")
                           }, logger: logger)
    }

    private static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
