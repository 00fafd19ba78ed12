import AmoreClient
import AmoreCore
import Hummingbird
import Logging
import Prometheus

/// `amore serve`'s two HTTP faces over one `AmoreClient`:
/// - the query port (for the API tier): `QueryRoutes`, the same endpoints and code as the
///   engine's, plus server-sent events from the follower's feed of new versions;
/// - the operations port (loopback unless told otherwise: for probes and monitoring only):
///   `/healthz`, `/readyz` (bootstrapped, lag within the bound, not stopping),
///   `/metrics`, and `POST /follow/pause` / `POST /follow/resume`, which hold this
///   server's view still for an investigation (readiness turns false once the topic
///   moves further ahead than the lag bound).
public enum ServeServer {
    public static func queryApplication(client: AmoreClient, restaurants: RestaurantDirectory, minVersionWait_ms: Int,
                                        host: String, port: Int, logger: Logger,
                                        onRunning: @escaping @Sendable (String) -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        var source = QuerySource(board: client.board, restaurants: restaurants, zonePrecision: client.zonePrecision,
                                 updates: { zone in client.updates(of: zone) })
        source.minVersionWait_ms = minVersionWait_ms
        QueryRoutes.add(to: router, source: source)
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "amore-serve"),
                           onServerRunning: { channel in
                               onRunning("\(channel.localAddress?.ipAddress ?? host):\(channel.localAddress?.port ?? port)")
                           }, logger: logger)
    }

    public static func operationsApplication(client: AmoreClient, host: String, port: Int, logger: Logger,
                                             onRunning: @escaping @Sendable (String) -> Void = { _ in }) -> some ApplicationProtocol {
        let registry = PrometheusCollectorRegistry()
        let gauges = ServeGauges(registry: registry)
        let router = Router()
        router.get("/healthz") { _, _ in
            client.status.isHealthy(now_ns: RankingFollowerClock.now_ns())
                ? plain(.ok, "ok\n") : plain(.serviceUnavailable, "follower loop stalled\n")
        }
        router.get("/readyz") { _, _ in
            if let reason = client.status.notReadyReason { return plain(.serviceUnavailable, "not ready: \(reason)\n") }
            return plain(.ok, "ready\n")
        }
        router.get("/metrics") { _, _ in
            gauges.update(from: client)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        // Both answer once the follower has done it (so that what follows the answer
        // is on the right side of it), or 503 after 5 s.
        router.post("/follow/pause") { _, _ in
            client.follower.pauseFollowing()
            return await settled { client.follower.isPaused } ? plain(.ok, "following paused\n")
                : plain(.serviceUnavailable, "the follower has not paused yet (still bootstrapping?)\n")
        }
        router.post("/follow/resume") { _, _ in
            client.follower.resumeFollowing()
            return await settled { !client.follower.isPaused } ? plain(.ok, "following resumed\n")
                : plain(.serviceUnavailable, "the follower has not resumed yet\n")
        }
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "amore-serve-ops"),
                           onServerRunning: { channel in
                               onRunning("\(channel.localAddress?.ipAddress ?? host):\(channel.localAddress?.port ?? port)")
                           }, logger: logger)
    }

    private static func settled(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<500 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    private static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// The follower's figures as Prometheus gauges, set at each scrape.
private struct ServeGauges: Sendable {
    let ready: Gauge
    let lag: Gauge
    let applied: Gauge
    let rejected: Gauge
    let zones: Gauge
    let bootstrapSeconds: Gauge
    let bootstrapRecords: Gauge

    init(registry: PrometheusCollectorRegistry) {
        ready = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "amore", subsystem: "serve", metricName: "ready", unitName: "state", helpText: "1 when bootstrapped, within the lag bound and not stopping"))
        lag = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "amore", subsystem: "serve", metricName: "lag", unitName: "records", helpText: "Records between what is applied and the rankings topic's end"))
        applied = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "amore", subsystem: "serve", metricName: "applied", unitName: "records", helpText: "Ranking records applied since start"))
        rejected = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "amore", subsystem: "serve", metricName: "rejected", unitName: "records", helpText: "Records that were not a valid ranking"))
        zones = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "amore", subsystem: "serve", metricName: "zones", unitName: "count", helpText: "Zones held"))
        bootstrapSeconds = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "amore", subsystem: "serve", metricName: "bootstrap", unitName: "seconds", helpText: "Time to read the topic's tail at start"))
        bootstrapRecords = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "amore", subsystem: "serve", metricName: "bootstrap", unitName: "records", helpText: "Records read at start (the tail)"))
    }

    func update(from client: AmoreClient) {
        let status = client.status
        ready.set(to: status.isReady ? 1 : 0)
        lag.set(to: Double(status.lag_records))
        applied.set(to: Double(status.appliedRecords))
        rejected.set(to: Double(status.rejectedRecords))
        zones.set(to: Double(client.board.zoneCount))
        bootstrapSeconds.set(to: Double(status.bootstrapDuration_ms ?? -1_000) / 1_000)
        bootstrapRecords.set(to: Double(status.bootstrapRecords))
    }
}
