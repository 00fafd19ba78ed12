import AmoreCore
import AmoreEngine
import AmoreKafka
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Which ranking to show.
struct WatchOptions: ParsableArguments {
    @Option(help: "Zone (geohash) to watch, e.g. 9v6kpn.")
    var zone: String?

    @Option(help: ArgumentHelp("Watch the zone holding this point.", valueName: "lat,lon"))
    var near: String?

    @Option(help: "Only restaurants serving this style (\(PizzaStyles.names.map { "\($0)" }.joined(separator: ", "))).")
    var style: String?

    @Option(help: "Rows to show.")
    var limit = 10

    func validate() throws {
        if zone != nil && near != nil { throw ValidationError("give --zone or --near, not both") }
        if let zone, GeohashCell(zone) == nil { throw ValidationError("--zone '\(zone)' is not a geohash") }
        if near != nil { _ = try point() }
        if let style, !PizzaStyles.names.contains(where: { "\($0)" == style }) {
            throw ValidationError("--style '\(style)' is not one of \(PizzaStyles.names.map { "\($0)" }.joined(separator: ", "))")
        }
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
    }

    private func point() throws -> (lat_deg: Double, lon_deg: Double) {
        let parts = (near ?? "").split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let lat = parts[0], let lon = parts[1], (-90...90).contains(lat), (-180...180).contains(lon) else {
            throw ValidationError("--near '\(near ?? "")' is not lat,lon in degrees")
        }
        return (lat, lon)
    }

    /// The zone id to watch; `fallback` (lat, lon) when neither --zone nor --near is given.
    func target(fallback: (lat_deg: Double, lon_deg: Double)?, precision: Int) throws -> String {
        if let zone { return zone }
        guard let point = near != nil ? try point() : fallback else { throw ValidationError("give --zone or --near") }
        return GeohashCell(lat_deg: point.lat_deg, lon_deg: point.lon_deg, precision: precision).description
    }
}

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the live ranking of one zone from the rankings topic.",
        discussion: """
        Reads the rankings topic from its beginning and keeps the newest version for the zone \
        (--zone, or the one holding --near lat,lon), with restaurant names from the profiles \
        topic. On a terminal the view refreshes in place; otherwise a block is printed each \
        time the ranking changes (at most once a second). Ctrl-C stops.
        """
    )

    @OptionGroup var watchOptions: WatchOptions
    @Option(help: "Geohash precision of zones, for --near (the engine's --zone-precision). Env: AMORE_ZONE_PRECISION. Default 6.")
    var zonePrecision: Int?
    @OptionGroup var kafkaOptions: KafkaOptions
    @OptionGroup var topicOptions: TopicOptions
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let (layers, logger) = try await common.load(defaultLevel: .warning)
        let precision = try layers.number(.zonePrecision, flag: zonePrecision, default: MarketSettings().zonePrecision)
        guard let precision, (1...12).contains(precision) else { throw ValidationError("zones.precision must be 1 to 12") }
        let kafka = try kafkaOptions.configuration(layers)
        guard kafka["bootstrap.servers"] != nil else {
            throw ValidationError("amore watch reads an existing cluster: give --brokers or AMORE_BROKERS (amore demo shows a watch of its own)")
        }
        let view = RankingView(settings: try topicOptions.settings(kafka: kafka, layers), zone: try watchOptions.target(fallback: nil, precision: precision),
                               style: watchOptions.style, limit: watchOptions.limit, output: .forStandardOutput(), logger: logger)
        try await ServiceGroup(configuration: .init(
            services: [.init(service: ThreadService(name: "amore-watch", run: view.run, stop: view.stop))],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }
}

/// A ranking as the rankings topic carries it (schemas/ranking.schema.json).
struct PublishedRanking: Decodable {
    struct Entry: Decodable {
        let restaurant_id: String
        let delivery_eta_s: Int
        let queue_wait_s: Int
        let prep_s: Int
        let courier_arrival_s: Int
        let handoff_s: Int
        let travel_s: Int
        let carry_out_ready_s: Int
        let styles: [String]
        let confidence: String
        let reason: String?
    }

    let zone_id: String
    let market_id: String
    let version: Int64
    let as_of_ms: Int64
    let entries: [Entry]
}

/// Follows one zone's ranking on the rankings topic and draws it.
final class RankingView: Sendable {
    enum Output: Sendable {
        /// Redrawn in place, every second and on every change.
        case terminal
        /// A block on each change, at most once a second.
        case lines

        static func forStandardOutput() -> Output { isatty(STDOUT_FILENO) == 1 ? .terminal : .lines }
    }

    struct State {
        var ranking: PublishedRanking?
        var updates = 0
        var names: [String: String] = [:]
        var lastDrawn_ns: UInt64 = 0
        var drawnVersion: Int64 = -1
    }

    private let settings: EngineSettings
    private let zone: String
    private let style: String?
    private let limit: Int
    private let output: Output
    private let footer: @Sendable () -> [String]
    private let logger: Logger
    private let stopRequested = Atomic<Bool>(false)

    init(settings: EngineSettings, zone: String, style: String?, limit: Int, output: Output,
         footer: @escaping @Sendable () -> [String] = { [] }, logger: Logger) {
        self.settings = settings
        self.zone = zone
        self.style = style
        self.limit = limit
        self.output = output
        self.footer = footer
        self.logger = logger
    }

    func stop() { stopRequested.store(true, ordering: .relaxed) }

    func run() throws {
        var configuration = settings.kafka
        configuration["group.id"] = "amore-watch-\(UUID().uuidString.prefix(8))"
        configuration["enable.auto.commit"] = "false"
        let consumer = try Consumer(configuration: configuration, logger: logger,
                                    onError: { [logger] error in logger.warning("watch consumer: \(error)") })
        defer { try? consumer.close() }
        let topics = settings.topics
        var assigned = false
        var state = State()
        let decoder = JSONDecoder()
        if output == .terminal { write("\u{1B}[?25l") }  // hide the cursor while drawing
        defer { if output == .terminal { write("\u{1B}[?25h\n") } }
        while !stopRequested.load(ordering: .relaxed) {
            if !assigned {
                // The engine creates the topics; until then there is nothing to read.
                let metadata = try? consumer.metadata(timeout_ms: 2_000)
                let partitions = [topics.rankings, topics.restaurants].flatMap { name in
                    (metadata?.topic(name)?.partitions ?? []).map { TopicPartition(name, $0.id, offset: KafkaOffset.beginning) }
                }
                if Set(partitions.map(\.topic)).count == 2 {
                    _ = try consumer.assign(partitions)
                    assigned = true
                } else {
                    draw(&state, waitingFor: "topics \(topics.rankings) and \(topics.restaurants)")
                    Thread.sleep(forTimeInterval: 0.5)
                    continue
                }
            }
            consumer.poll(maxRecords: 5_000, timeout_ms: 100) { batch in
                for record in batch {
                    guard let value = record.value else { continue }
                    if record.topic == topics.restaurants {
                        guard let profile = try? EventDecoder.decodeRestaurantProfile(value, context: RecordContext(key: record.key, timestamp_ms: record.timestamp_ms))
                        else { continue }
                        state.names[profile.restaurantID.description] = profile.name
                    } else if let key = record.key, key.elementsEqual(zone.utf8) {
                        guard let ranking = try? decoder.decode(PublishedRanking.self, from: Data(value)) else { continue }
                        if ranking.version > (state.ranking?.version ?? 0) {
                            state.ranking = ranking
                            state.updates += 1
                        }
                    }
                }
            }
            draw(&state, waitingFor: state.ranking == nil ? "zone \(zone)'s first ranking" : nil)
        }
    }

    private func draw(_ state: inout State, waitingFor: String?) {
        let now_ns = DispatchTime.now().uptimeNanoseconds
        guard now_ns - state.lastDrawn_ns >= 1_000_000_000 else { return }
        let version = state.ranking?.version ?? 0
        if output == .lines && version == state.drawnVersion { return }
        state.lastDrawn_ns = now_ns
        state.drawnVersion = version
        var lines: [String] = []
        if let waitingFor {
            lines.append("Amore · zone \(zone) · waiting for \(waitingFor)…")
        } else if let ranking = state.ranking {
            lines += render(ranking, names: state.names, updates: state.updates)
        }
        lines += footer()
        switch output {
        case .terminal:
            // Home, then each line cleared to its end, then everything below cleared.
            write("\u{1B}[H" + lines.map { $0 + "\u{1B}[K" }.joined(separator: "\n") + "\n\u{1B}[J")
        case .lines:
            write(lines.joined(separator: "\n") + "\n\n")
        }
    }

    private func write(_ text: String) { FileHandle.standardOutput.write(Data(text.utf8)) }

    func render(_ ranking: PublishedRanking, names: [String: String], updates: Int) -> [String] {
        let now_ms = Int64(Date().timeIntervalSince1970 * 1_000)
        let age_ms = now_ms - ranking.as_of_ms
        let age = age_ms >= 0 ? "\(age_ms / 1_000) s old" : "event time \(-age_ms / 1_000) s ahead of the clock"
        var lines = [
            "Amore · zone \(ranking.zone_id) (\(ranking.market_id)) · version \(ranking.version) · as of \(utcClock(ranking.as_of_ms)) (\(age)) · \(updates) updates seen",
            "",
            Self.row("#", "restaurant", "delivery", "queue", "prep", "courier", "handoff", "travel", "carry-out", "note"),
        ]
        let entries = ranking.entries.filter { entry in style.map { entry.styles.contains($0) } ?? true }
        for (index, entry) in entries.prefix(limit).enumerated() {
            let name = names[entry.restaurant_id].map { "\($0) (\(entry.restaurant_id))" } ?? entry.restaurant_id
            func clock(_ seconds: Int) -> String { "\(seconds / 60):\(String(format: "%02d", seconds % 60))" }
            lines.append(Self.row("\(index + 1)", name, clock(entry.delivery_eta_s), clock(entry.queue_wait_s), clock(entry.prep_s),
                                  clock(entry.courier_arrival_s), clock(entry.handoff_s), clock(entry.travel_s),
                                  clock(entry.carry_out_ready_s), entry.reason ?? (entry.confidence == "high" ? "" : entry.confidence)))
        }
        if entries.isEmpty { lines.append("   (no restaurant\(style.map { " serving \($0)" } ?? "") delivers here)") }
        return lines
    }

    private static func row(_ rank: String, _ name: String, _ columns: String...) -> String {
        let shortName = name.count > 44 ? String(name.prefix(43)) + "…" : name
        return rank.leftPadded(3) + "  " + shortName.padding(toLength: 44, withPad: " ", startingAt: 0)
            + columns.dropLast().map { $0.leftPadded(10) }.joined() + "  " + (columns.last ?? "")
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
