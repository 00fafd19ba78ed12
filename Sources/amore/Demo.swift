import AmoreCore
import AmoreEngine
import AmoreSimulation
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Amore in one command: a local broker, the engine, a simulated Austin, and a live ranking of downtown.",
        discussion: """
        Starts a local broker (unless --brokers / AMORE_BROKERS is given), the engine, and \
        the simulator (Austin by default at the dinner rush, --local-hour 18.5, with its \
        last --history, 20m, produced at once so that kitchens are busy from the start, then \
        real time), and shows the ranking of a \
        downtown Austin zone (or --zone / --near) refreshing in place, with the URL of the \
        live map of the city (/map on the engine's HTTP endpoint) beneath it. A small share of \
        records (--malformed-fraction 0.0005 unless given) is broken on purpose and goes to the \
        dead-letter topic. Ctrl-C (or \
        --stop-after) stops everything it started: the simulator flushes, the engine \
        publishes, commits and leaves its group, the broker stops.
        """
    )

    @OptionGroup var city: CityOptions
    @Option(help: "Speed-up of event time after the history: 1 is real time.")
    var speed = Pace.speed(1)
    @Option(help: "Stop by itself after this many seconds (non-interactive runs).")
    var stopAfter: Double?
    @OptionGroup var watchOptions: WatchOptions
    @OptionGroup var kafkaOptions: KafkaOptions
    @OptionGroup var topicOptions: TopicOptions
    @OptionGroup var engineOptions: EngineOptions
    @OptionGroup var common: CommonOptions

    mutating func validate() throws {
        // Defaults of the demo where the simulator's differ: warm kitchens, a few dead letters.
        if city.history == nil { city.history = TimeSpan(milliseconds: 20 * 60_000) }
        if city.malformedFraction == nil { city.malformedFraction = 0.0005 }
        // The dinner rush (busy kitchens, couriers on the move) whatever time it is in Austin.
        if city.localHour == nil { city.localHour = 18.5 }
        if engineOptions.http == nil && ProcessInfo.processInfo.environment["AMORE_HTTP"] == nil { engineOptions.http = "127.0.0.1:0" }
    }

    func run() async throws {
        let output = RankingView.Output.forStandardOutput()
        // On a terminal the view owns the screen: only errors are logged over it.
        let (layers, logger) = try await common.load(defaultLevel: output == .terminal ? .error : .notice)
        let (kafka, localBroker) = try kafkaOptions.connect(layers, logger: logger)
        defer { localBroker?.stop() }
        let settings = try topicOptions.settings(kafka: kafka, layers)
        let http = Mutex<String?>(nil)
        let engine = try engineOptions.services(settings: settings, layers, localBroker: localBroker != nil, logger: logger,
                                                onListening: { address in http.withLock { $0 = address } })

        let (simulation, anchor_ms) = city.simulation()
        let downtown = simulation.markets[0].settings.city.downtown
        let progress = FeedProgress(output: .silent)
        let feed = InputFeed(settings: settings, pace: speed, anchor_ms: anchor_ms, source: SimulationSource(simulation, end_ms: nil),
                             progress: progress, logger: logger)
        let status = engine.engine.status
        let brokerLine = "broker: \(localBroker.map { "local (Tansu, in memory) at \($0.bootstrapServers)" } ?? "\(kafka["bootstrap.servers"] ?? "")")"
        let view = RankingView(
            settings: settings, zone: try watchOptions.target(fallback: (downtown.lat_deg, downtown.lon_deg),
                                         precision: engine.engine.settings.market.zonePrecision),
            style: watchOptions.style, limit: watchOptions.limit, output: output,
            footer: {
                let counts = progress.snapshot
                return ["", "simulator: \(counts.line)",
                        "engine: \(status.isReady ? "ready" : "loading profiles"), \(status.appliedEvents) events applied · \(brokerLine)",
                        "map: \(http.withLock { $0 }.map { "http://\($0)/map" } ?? "starting…")",
                        "Ctrl-C stops the simulator, the engine and the broker."]
            },
            logger: logger)

        var services = engine.services
        services.append(.init(service: ThreadService(name: "amore-simulate", run: feed.run, stop: feed.stop),
                              failureTerminationBehavior: .gracefullyShutdownGroup))
        services.append(.init(service: ThreadService(name: "amore-watch", run: view.run, stop: view.stop),
                              failureTerminationBehavior: .gracefullyShutdownGroup))
        if let stopAfter { services.append(.init(service: StopAfter(seconds: stopAfter), successTerminationBehavior: .gracefullyShutdownGroup)) }
        try await ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }
}

/// Ends its service group after a while (a demo run without a keyboard).
struct StopAfter: Service {
    let seconds: Double

    func run() async throws {
        // Cancelled (and so ended early) when the group shuts down for another reason.
        _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(seconds)) }
    }
}
