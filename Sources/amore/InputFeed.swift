import AmoreCore
import AmoreEngine
import AmoreKafka
import AmoreSimulation
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// How fast a feed plays event time: `max`, or a speed-up of the clock (`1` is real time).
enum Pace: ExpressibleByArgument, CustomStringConvertible {
    case asFastAsPossible
    case speed(Double)

    init?(argument: String) {
        if argument == "max" {
            self = .asFastAsPossible
        } else if let speed = Double(argument), speed > 0, speed.isFinite {
            self = .speed(speed)
        } else {
            return nil
        }
    }

    var description: String {
        switch self {
        case .asFastAsPossible: "max"
        case .speed(let speed): "\(speed)"
        }
    }
}

/// A span of time on the command line: `90s`, `20m`, `2h`, or plain seconds.
struct TimeSpan: ExpressibleByArgument {
    let milliseconds: Int64

    init(milliseconds: Int64) { self.milliseconds = milliseconds }

    init?(argument: String) {
        let units: [Character: Double] = ["s": 1_000, "m": 60_000, "h": 3_600_000]
        var text = Substring(argument)
        var unit = 1_000.0
        if let last = text.last, let scale = units[last] {
            unit = scale
            text = text.dropLast()
        }
        guard let amount = Double(text), amount >= 0, amount.isFinite else { return nil }
        milliseconds = Int64(amount * unit)
    }
}

/// Where a feed's records come from, in the order they are to be produced.
protocol RecordSource {
    /// The next records; nil at the end.
    mutating func nextRecords() throws -> [SimulatedRecord]?
}

/// A simulation, a second of event time at a time, from its profiles to `end_ms` (nil: forever).
struct SimulationSource: RecordSource {
    var simulation: CitySimulation
    let end_ms: Int64?
    private var sentProfiles = false

    init(_ simulation: CitySimulation, end_ms: Int64?) {
        self.simulation = simulation
        self.end_ms = end_ms
    }

    mutating func nextRecords() -> [SimulatedRecord]? {
        if !sentProfiles {
            sentProfiles = true
            return simulation.profileRecords
        }
        let now_ms = simulation.now_ms
        if let end_ms, now_ms >= end_ms { return nil }
        var records: [SimulatedRecord] = []
        simulation.run(until: min(now_ms + 1_000, end_ms ?? .max)) { records.append($0) }
        return records
    }
}

/// Produces records to the input topics at a pace, counting what it sends.
///
/// Event time `anchor_ms` is played at the moment `run` starts; records before it go as
/// fast as possible (history, to warm kitchens up), later ones at `pace`. Each record
/// keeps its timestamp (CreateTime = event time, as the contracts say), and one broken
/// on purpose carries its expected rejection in the `amore-malformed` header.
final class InputFeed: Sendable {
    let progress: FeedProgress
    private let settings: EngineSettings
    private let pace: Pace
    private let anchor_ms: Int64
    private let source: Mutex<any RecordSource & Sendable>
    private let stopRequested = Atomic<Bool>(false)
    private let failures = Atomic<Int>(0)
    private let logger: Logger

    init(settings: EngineSettings, pace: Pace, anchor_ms: Int64, source: some RecordSource & Sendable,
         progress: FeedProgress, logger: Logger) {
        self.settings = settings
        self.pace = pace
        self.anchor_ms = anchor_ms
        self.source = Mutex(source)
        self.progress = progress
        self.logger = logger
    }

    func stop() { stopRequested.store(true, ordering: .relaxed) }

    /// A feed on its own (`amore simulate`, `amore replay`): connects (starting a local
    /// broker and printing `AMORE_BOOTSTRAP_SERVERS=` when none is configured), shows
    /// progress on standard error, and runs until the source ends or SIGINT/SIGTERM.
    static func run(name: String, source: some RecordSource & Sendable, anchor_ms: Int64, pace: Pace,
                    kafkaOptions: KafkaOptions, topicOptions: TopicOptions, layers: LayeredConfiguration,
                    logger: Logger) async throws {
        let (kafka, localBroker) = try kafkaOptions.connect(layers, logger: logger)
        defer { localBroker?.stop() }
        if let localBroker { FileHandle.standardOutput.write(Data("AMORE_BOOTSTRAP_SERVERS=\(localBroker.bootstrapServers)\n".utf8)) }
        let feed = InputFeed(settings: try topicOptions.settings(kafka: kafka, layers), pace: pace, anchor_ms: anchor_ms,
                             source: source, progress: .forStandardError(), logger: logger)
        try await ServiceGroup(configuration: .init(
            services: [.init(service: ThreadService(name: name, run: feed.run, stop: feed.stop),
                             successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }

    func run() throws {
        _ = try Engine.prepareTopics(settings, logger: logger)
        let producer = try Producer(
            configuration: settings.kafka.withDefaults(["linger.ms": "5"]), logger: logger,
            onError: { [logger] error in logger.warning("producer: \(error)") },
            onDelivery: { [self] report in
                guard !report.isDelivered else { return }
                if failures.add(1, ordering: .relaxed).newValue <= 5 { logger.error("a record was not delivered: \(report.error.map { "\($0)" } ?? "unknown error")") }
            })
        let topics = [InputTopic.restaurants: try producer.topic(settings.topics.restaurants),
                      .orders: try producer.topic(settings.topics.orders),
                      .couriers: try producer.topic(settings.topics.couriers)]
        let start_ns = DispatchTime.now().uptimeNanoseconds
        progress.start()
        defer { progress.finish() }
        while !stopRequested.load(ordering: .relaxed) {
            guard let records = try source.withLock({ try $0.nextRecords() }) else { break }
            for record in records {
                if case .speed(let speed) = pace, record.timestamp_ms > anchor_ms {
                    let due_ns = start_ns + UInt64(Double(record.timestamp_ms - anchor_ms) / speed * 1_000_000)
                    // Short naps, so that a stop and the progress line are never held up long.
                    while case let now_ns = DispatchTime.now().uptimeNanoseconds, now_ns < due_ns {
                        if stopRequested.load(ordering: .relaxed) { break }
                        progress.report()
                        usleep(useconds_t(min(200_000, (due_ns - now_ns) / 1_000)))
                    }
                    if stopRequested.load(ordering: .relaxed) { break }
                }
                let headers = record.malformed.map { [RecordHeader(SimulatedRecord.malformedHeader, $0.rawValue)] } ?? []
                try record.key.withUnsafeBytes { key in
                    try record.value.withUnsafeBytes { value in
                        try producer.send(to: topics[record.topic]!, key: key, value: value, headers: headers,
                                          timestamp_ms: record.timestamp_ms)
                    }
                }
                progress.count(record)
            }
            progress.report()
        }
        try producer.close()
        let failed = failures.load(ordering: .relaxed)
        if failed > 0 { throw ValidationError("\(failed) records were not delivered") }
    }
}
