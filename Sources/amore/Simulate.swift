import AmoreCore
import AmoreEngine
import AmoreLocalBroker
import AmoreSimulation
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle

/// What the simulated city looks like (shared by `simulate` and `demo`).
struct CityOptions: ParsableArguments {
    @Option(help: "Markets, the first N of \(City.catalogue.map(\.marketID.description).joined(separator: ", ")).")
    var markets = 1

    @Option(help: "Restaurants per market.")
    var restaurants = 600

    @Option(help: "Couriers per market (each pings every 4 s).")
    var couriers = 10_000

    @Option(help: "Orders per second per market at the dinner peak (the daily curve scales it).")
    var ordersPerSecond = 2.5

    @Option(help: "Seed: the same seed and start give the same records, byte for byte.")
    var seed: UInt64 = 42

    // Optional so that `demo` can tell "not given" from an explicit 0 (it has defaults of its own).
    @Option(help: "Share of order and ping records broken on purpose (dead-letter demonstrations), 0 to 1. Default 0.")
    var malformedFraction: Double?

    @Option(help: "Local hour of day (0-24) the demand curve starts at, e.g. 18.5 for the dinner rush. Default: the city's real local time.")
    var localHour: Double?

    @Option(help: "Event time of the first record, Unix ms. Default: now, less --history.")
    var startMs: Int64?

    @Option(help: "Event time simulated before now and produced as fast as possible first (warm kitchens), e.g. 30m. Default 0.")
    var history: TimeSpan?

    func validate() throws {
        guard (1...City.catalogue.count).contains(markets) else {
            throw ValidationError("--markets must be 1 to \(City.catalogue.count), not \(markets)")
        }
        guard restaurants >= 1 else { throw ValidationError("--restaurants must be at least 1") }
        guard couriers >= 0 else { throw ValidationError("--couriers must not be negative") }
        guard ordersPerSecond > 0, ordersPerSecond.isFinite else { throw ValidationError("--orders-per-second must be positive") }
        if let localHour, !(0...24).contains(localHour) { throw ValidationError("--local-hour must be between 0 and 24") }
        if let malformedFraction, !(0...1).contains(malformedFraction) { throw ValidationError("--malformed-fraction must be between 0 and 1") }
    }

    /// The simulation, and the event time that plays "now" (its start plus the history).
    func simulation() -> (CitySimulation, anchor_ms: Int64) {
        let now_ms = Int64(Date().timeIntervalSince1970 * 1_000) / 1_000 * 1_000
        let history_ms = history?.milliseconds ?? 0
        let start_ms = startMs ?? now_ms - history_ms
        let markets = City.catalogue.prefix(markets).enumerated().map { index, city in
            var settings = MarketSimulator.Settings()
            settings.city = city
            settings.restaurants = restaurants
            settings.couriers = couriers
            settings.ordersPerSecond = ordersPerSecond
            settings.start_ms = start_ms
            settings.localHourAtStart = localHour
            settings.seed = seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
            return settings
        }
        return (CitySimulation(markets: markets, malformedFraction: malformedFraction ?? 0, seed: seed), start_ms + history_ms)
    }
}

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Produce a synthetic city's profiles, orders and courier pings to Kafka, or to an NDJSON file.",
        discussion: """
        A seeded model of Texas markets (Austin first): restaurants in real neighbourhoods, \
        orders on a daily curve with lunch and dinner peaks, kitchens with ovens, couriers \
        sent to restaurants and customers at street speeds. Records are keyed and \
        partitioned as the contracts say, with CreateTime = event time; the input topics are \
        created when missing. With no brokers configured a local broker is started. \
        --out writes the records as NDJSON instead (for benchmarks and `amore replay`). \
        Shows a progress line (events/s by type, totals, elapsed); Ctrl-C stops after \
        flushing what was produced.
        """
    )

    @OptionGroup var city: CityOptions
    @Option(help: "Event time to simulate from the start (history included), e.g. 90s, 20m, 2h. Default: until stopped (required with --out).")
    var duration: TimeSpan?
    @Option(help: "Speed-up of event time: 1 is real time, 10 ten times faster, max as fast as possible. Default 1 (max with --out).")
    var speed: Pace?
    @Option(help: "Write NDJSON records to this file (- for standard output) instead of Kafka.")
    var out: String?
    @OptionGroup var kafkaOptions: KafkaOptions
    @OptionGroup var topicOptions: TopicOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if out != nil && duration == nil { throw ValidationError("--out needs --duration (the file must end)") }
    }

    func run() async throws {
        let (layers, logger) = try await common.load()
        let (simulation, anchor_ms) = city.simulation()
        let end_ms = duration.map { simulation.now_ms + $0.milliseconds }
        if let out {
            try write(SimulationSource(simulation, end_ms: end_ms), to: out)
            return
        }
        try await InputFeed.run(name: "amore-simulate", source: SimulationSource(simulation, end_ms: end_ms), anchor_ms: anchor_ms,
                                pace: speed ?? .speed(1), kafkaOptions: kafkaOptions, topicOptions: topicOptions, layers: layers, logger: logger)
    }

    private func write(_ source: SimulationSource, to path: String) throws {
        let handle: FileHandle
        if path == "-" {
            handle = .standardOutput
        } else {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw ValidationError("cannot create \(path)")
            }
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        }
        defer { if path != "-" { try? handle.close() } }
        var source = source
        let progress = FeedProgress.forStandardError()
        progress.start()
        var buffer: [UInt8] = []
        while let records = source.nextRecords() {
            for record in records {
                buffer += RecordFile.line(record)
                progress.count(record)
            }
            if buffer.count > 1 << 20 {
                try handle.write(contentsOf: buffer)
                buffer.removeAll(keepingCapacity: true)
            }
            progress.report()
        }
        try handle.write(contentsOf: buffer)
        progress.finish()
    }
}
