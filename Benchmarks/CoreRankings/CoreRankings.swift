// The core on an Austin-sized market: 600 restaurants, 10,000 couriers pinging every 4 s,
// 2.5 orders/s (9,000 an hour: dinner peak), zones of geohash precision 6, delivery radii
// 5-8 km (AmoreSimulation.MarketSimulator, seed 42).
//
// - apply rates on one core, rankings not refreshed (raw state updates);
// - 10 minutes of peak replayed with every zone ranking maintained at 1 s of event time;
// - reads from 2 threads while the writer replays, lock-free board vs the same rankings
//   behind a `Mutex` and as immutable objects behind an `AtomicReference`, in the same
//   iteration;
// - bytes per courier, restaurant, open order and published zone (glibc's mallinfo2).
import AmoreCore
import AmoreSimulation
import Atomics
import Benchmark
import Foundation
import HeapStats
import Synchronization

let austin = { var settings = MarketSimulator.Settings(); settings.demand = .constant; return settings }()
let replay_s: Int64 = 600

/// Thirty minutes of warm-up (its orders and last minute of pings: enough to fill the
/// kitchens and place every courier), then the ten minutes measured.
struct Recording {
    var profiles: [RestaurantProfile] = []
    var warmUp: [SimulatedEvent] = []
    var pings: [CourierPing] = []
    var orders: [OrderEvent] = []
    /// Replay order: true for the next order, false for the next ping.
    var isOrder: [Bool] = []
}

let recording: Recording = {
    var simulator = MarketSimulator(settings: austin)
    var recording = Recording()
    recording.profiles = simulator.profiles
    let warmUpEnd = austin.start_ms + 30 * 60_000
    simulator.run(until: warmUpEnd) { event in
        if case .ping(let ping) = event, ping.eventTime_ms < warmUpEnd - 60_000 { return }
        recording.warmUp.append(event)
    }
    simulator.run(until: warmUpEnd + replay_s * 1_000) { event in
        switch event {
        case .order(let order): recording.orders.append(order); recording.isOrder.append(true)
        case .ping(let ping): recording.pings.append(ping); recording.isOrder.append(false)
        }
    }
    return recording
}()

/// A market after the warm-up, its rankings published.
func warmMarket(_ settings: MarketSettings = MarketSettings(), board: RankingBoard = RankingBoard()) -> MarketState {
    var market = MarketState(marketID: austin.marketID, board: board, settings: settings)
    for profile in recording.profiles { market.apply(profile) }
    for event in recording.warmUp {
        market.apply(event)
    }
    _ = market.takePublishedZones()
    return market
}

/// Settings under which events never trigger a ranking refresh: raw state updates.
let rawSettings: MarketSettings = {
    var settings = MarketSettings()
    settings.rankingResolution_ms = 1 << 50
    return settings
}()

/// 800,000 order events: 2,000 orders in flight at a time, each placed, started, ready
/// and picked up, restaurants at random, 1 ms apart.
let orderStream: [OrderEvent] = {
    var random = SplitMix64(seed: 5)
    var events: [OrderEvent] = []
    events.reserveCapacity(800_000)
    let types: [OrderEventType] = [.placed, .started, .ready, .pickedUp]
    var inFlight = (0..<2_000).map { (order: $0, restaurant: Int(random.next() % 600), stage: 0) }
    var nextOrder = 2_000
    var time_ms = austin.start_ms + 40 * 60_000
    while events.count < 800_000 {
        let slot = Int(random.next() % 2_000)
        let order = inFlight[slot]
        events.append(OrderEvent(eventID: Identifier(validating: "bench-e-\(events.count)")!,
                                 restaurantID: recording.profiles[order.restaurant].restaurantID, marketID: austin.marketID,
                                 orderID: Identifier(validating: "bench-o-\(order.order)")!, type: types[order.stage],
                                 channel: .delivery, eventTime_ms: time_ms))
        time_ms += 1
        inFlight[slot] = order.stage == 3 ? (nextOrder, Int(random.next() % 600), 0) : (order.order, order.restaurant, order.stage + 1)
        if order.stage == 3 { nextOrder += 1 }
    }
    return events
}()

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

// MARK: The same rankings behind a mutex (the baseline for reads)

/// The same index behind a `Mutex`: a second board that the writer fills and readers
/// read only while holding the lock (its own sequence lock then never contends), so
/// that the difference measured is the lock, not the data structure.
final class MutexRankings: Sendable {
    private let board = RankingBoard()
    private let lock = Mutex(())

    func store(_ zone: GeohashCell, _ snapshot: ZoneSnapshot) {
        let entries = Array(snapshot.entries)
        lock.withLock { _ in
            entries.withUnsafeBufferPointer {
                _ = board.publish(zone, market: snapshot.market, version: snapshot.version, asOf_ms: snapshot.asOf_ms, entries: $0)
            }
        }
    }

    func best(in zone: GeohashCell) -> (entry: RankedRestaurant, version: Int64, asOf_ms: Int64)? {
        lock.withLock { _ in board.best(in: zone) }
    }

    func read(_ zone: GeohashCell, limit: Int, into snapshot: inout ZoneSnapshot) -> Bool {
        lock.withLock { _ in board.read(zone, limit: limit, into: &snapshot) }
    }
}

/// The other lock-free design: each zone's ranking an immutable object, replaced whole
/// behind an `AtomicReference` (swift-atomics; a read is a load and a retain/release).
final class AtomicReferenceRankings: Sendable {
    final class Ranking: AtomicReference, Sendable {
        let version: Int64
        let asOf_ms: Int64
        let entries: [RankedRestaurant]

        init(_ snapshot: ZoneSnapshot) {
            version = snapshot.version
            asOf_ms = snapshot.asOf_ms
            entries = Array(snapshot.entries)
        }
    }

    /// The zones are known before the readers start; only their rankings change.
    private let zones: [GeohashCell: ManagedAtomic<Ranking>]

    init(_ initial: [(GeohashCell, ZoneSnapshot)]) {
        zones = Dictionary(uniqueKeysWithValues: initial.map { ($0.0, ManagedAtomic(Ranking($0.1))) })
    }

    func store(_ zone: GeohashCell, _ snapshot: ZoneSnapshot) {
        zones[zone]?.store(Ranking(snapshot), ordering: .releasing)
    }

    func best(in zone: GeohashCell) -> (entry: RankedRestaurant, version: Int64, asOf_ms: Int64)? {
        guard let ranking = zones[zone]?.load(ordering: .acquiring), let first = ranking.entries.first else { return nil }
        return (first, ranking.version, ranking.asOf_ms)
    }

    func read(_ zone: GeohashCell, limit: Int, into copy: inout [RankedRestaurant]) -> Int64? {
        guard let ranking = zones[zone]?.load(ordering: .acquiring) else { return nil }
        copy.removeAll(keepingCapacity: true)
        copy.append(contentsOf: ranking.entries.prefix(limit))
        return ranking.version
    }
}

/// Replays the recording into a market (and mirrors every publication into the mutex
/// and atomic-reference baselines) on its own thread until it ends or is stopped.
final class ReplayWriter: @unchecked Sendable {
    var market: MarketState
    let mirror = MutexRankings()
    let references: AtomicReferenceRankings
    let running = Atomic<Bool>(true)
    let stop = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    init() {
        market = warmMarket()
        var initial: [(GeohashCell, ZoneSnapshot)] = []
        for zone in Self.zones(of: market) {
            if let snapshot = market.board.snapshot(of: zone) {
                mirror.store(zone, snapshot)
                initial.append((zone, snapshot))
            }
        }
        references = AtomicReferenceRankings(initial)
    }

    static func zones(of market: borrowing MarketState) -> [GeohashCell] {
        Array(Set(recording.profiles.flatMap { market.zones(of: $0.restaurantID) })).sorted { $0.bits < $1.bits }
    }

    /// Replays at `speedup` × real time: the writer is active (about 800 zone
    /// publications per event-second) without taking a core, as in production, so that
    /// the two readers really run at the same time on this 2-core machine.
    func start(speedup: Int64 = 20) {
        Thread { [self] in
            var ping = 0
            var order = 0
            let startWall = ContinuousClock.now
            let startEvent_ms = recording.pings[0].eventTime_ms
            var pacedUntil_ms = startEvent_ms
            for isOrder in recording.isOrder {
                if stop.load(ordering: .relaxed) { break }
                let eventTime_ms = isOrder ? recording.orders[order].eventTime_ms : recording.pings[ping].eventTime_ms
                if eventTime_ms >= pacedUntil_ms + 1_000 {
                    pacedUntil_ms = eventTime_ms
                    let due = startWall + .milliseconds((eventTime_ms - startEvent_ms) / speedup)
                    if due > ContinuousClock.now { Thread.sleep(forTimeInterval: seconds(due - ContinuousClock.now)) }
                }
                if isOrder { market.apply(recording.orders[order]); order += 1 } else { market.apply(recording.pings[ping]); ping += 1 }
                for zone in market.takePublishedZones() {
                    if let snapshot = market.board.snapshot(of: zone) {
                        mirror.store(zone, snapshot)
                        references.store(zone, snapshot)
                    }
                }
            }
            running.store(false, ordering: .releasing)
            done.signal()
        }.start()
    }

    func finish() {
        stop.store(true, ordering: .relaxed)
        done.wait()
    }
}

/// One way of reading a zone, with its own storage for what it copies; generic, so that
/// each is measured as a direct call. Top-10 readers hand back the sum of the ten ETAs,
/// so that every entry read is used.
protocol ZoneReader: Sendable {
    mutating func read(_ zone: GeohashCell) -> Int
}

struct LockFreeBest: ZoneReader {
    let board: RankingBoard
    func read(_ zone: GeohashCell) -> Int { Int(board.best(in: zone)?.entry.deliveryETA_s ?? 0) }
}

struct MutexBest: ZoneReader {
    let rankings: MutexRankings
    func read(_ zone: GeohashCell) -> Int { Int(rankings.best(in: zone)?.entry.deliveryETA_s ?? 0) }
}

struct AtomicReferenceBest: ZoneReader {
    let rankings: AtomicReferenceRankings
    func read(_ zone: GeohashCell) -> Int { Int(rankings.best(in: zone)?.entry.deliveryETA_s ?? 0) }
}

struct AtomicReferenceTop10: ZoneReader {
    let rankings: AtomicReferenceRankings
    var entries: [RankedRestaurant] = []

    mutating func read(_ zone: GeohashCell) -> Int {
        guard rankings.read(zone, limit: 10, into: &entries) != nil else { return 0 }
        return entries.reduce(0) { $0 &+ Int($1.deliveryETA_s) }
    }
}

struct LockFreeTop10: ZoneReader {
    let board: RankingBoard
    var snapshot = ZoneSnapshot()

    mutating func read(_ zone: GeohashCell) -> Int {
        guard board.read(zone, limit: 10, into: &snapshot) else { return 0 }
        return snapshot.entries.reduce(0) { $0 &+ Int($1.deliveryETA_s) }
    }
}

struct MutexTop10: ZoneReader {
    let rankings: MutexRankings
    var snapshot = ZoneSnapshot()

    mutating func read(_ zone: GeohashCell) -> Int {
        guard rankings.read(zone, limit: 10, into: &snapshot) else { return 0 }
        return snapshot.entries.reduce(0) { $0 &+ Int($1.deliveryETA_s) }
    }
}

/// Nanoseconds per read of each batch of `order`'s zones, batches repeated for
/// `duration` (long enough that both readers' runs overlap almost entirely).
@inline(never)
func timeBatches<Reader: ZoneReader>(_ reader: Reader, order: [GeohashCell], duration: Duration) -> [Double] {
    var reader = reader
    // Warm the reader's storage: no allocation per read.
    for zone in order { blackHole(reader.read(zone)) }
    var times: [Double] = []
    var checksum = 0
    let end = ContinuousClock.now + duration
    while ContinuousClock.now < end {
        let start = ContinuousClock.now
        for zone in order { checksum &+= reader.read(zone) }
        times.append(seconds(ContinuousClock.now - start) * 1e9 / Double(order.count))
    }
    blackHole(checksum)
    return times
}

/// Median nanoseconds per read over batches of reads on `threads` threads at once
/// (medians of batches: a batch interrupted by the writer is an outlier, not the
/// typical read).
func medianReadTime_ns<Reader: ZoneReader>(threads: Int, zones: [GeohashCell], _ reader: Reader) -> Double {
    let results = Mutex<[Double]>([])
    let done = DispatchSemaphore(value: 0)
    for thread in 0..<threads {
        Thread {
            var random = SplitMix64(seed: UInt64(thread + 1))
            // Zones visited in a random order, chosen before the clock starts.
            let order = (0..<1_000).map { _ in zones[Int(random.next() % UInt64(zones.count))] }
            let times = timeBatches(reader, order: order, duration: .milliseconds(250))
            results.withLock { $0 += times }
            done.signal()
        }.start()
    }
    for _ in 0..<threads { done.wait() }
    let all = results.withLock { $0 }.sorted()
    return all[all.count / 2]
}

func heapInUse_bytes() -> Int { Int(heap_in_use_bytes()) }

let benchmarks: @Sendable () -> Void = {
    let tolerance = BenchmarkThresholds(relative: [.p50: 30.0])
    func configuration(_ metrics: [BenchmarkMetric], iterations: Int) -> Benchmark.Configuration {
        .init(metrics: metrics, maxDuration: .seconds(120), maxIterations: iterations,
              thresholds: Dictionary(uniqueKeysWithValues: metrics.map { ($0, tolerance) }))
    }
    FileHandle.standardError.write(Data("""
        recording: \(recording.profiles.count) restaurants, \(austin.couriers) couriers, warm-up \(recording.warmUp.count) events, \
        replay \(recording.pings.count) pings + \(recording.orders.count) order events over \(replay_s) s\n
        """.utf8))

    let pingRate = BenchmarkMetric.custom("courier_pings_k_per_s", polarity: .prefersLarger)
    Benchmark("apply_courier_pings", configuration: configuration([pingRate], iterations: 8)) { benchmark in
        var market = warmMarket(rawSettings)
        let start = ContinuousClock.now
        for ping in recording.pings { market.apply(ping) }
        let elapsed = seconds(ContinuousClock.now - start)
        precondition(market.counters.pings[.applied] >= recording.pings.count)
        benchmark.measurement(pingRate, Int(Double(recording.pings.count) / elapsed / 1_000))
    }

    let orderRate = BenchmarkMetric.custom("order_events_k_per_s", polarity: .prefersLarger)
    Benchmark("apply_order_events", configuration: configuration([orderRate], iterations: 8)) { benchmark in
        var market = warmMarket(rawSettings)
        let before = market.counters.orders[.applied]
        let start = ContinuousClock.now
        for event in orderStream { market.apply(event) }
        let elapsed = seconds(ContinuousClock.now - start)
        precondition(market.counters.orders[.applied] - before == orderStream.count)
        benchmark.measurement(orderRate, Int(Double(orderStream.count) / elapsed / 1_000))
    }

    let realTime = BenchmarkMetric.custom("replay_x_real_time", polarity: .prefersLarger)
    let publications = BenchmarkMetric.custom("zone_publications_per_s_event_time", polarity: .prefersLarger)
    let eventRate = BenchmarkMetric.custom("replay_events_k_per_s", polarity: .prefersLarger)
    Benchmark("replay_10_min_austin_peak", configuration: configuration([realTime, publications, eventRate], iterations: 6)) { benchmark in
        var market = warmMarket()
        let published = market.counters.publications + market.counters.heartbeats
        var ping = 0
        var order = 0
        let start = ContinuousClock.now
        for isOrder in recording.isOrder {
            if isOrder { market.apply(recording.orders[order]); order += 1 } else { market.apply(recording.pings[ping]); ping += 1 }
            blackHole(market.takePublishedZones())
        }
        market.refreshRankings(asOf_ms: recording.pings.last!.eventTime_ms / 1_000 * 1_000 + 1_000)
        let elapsed = seconds(ContinuousClock.now - start)
        benchmark.measurement(realTime, Int(Double(replay_s) / elapsed))
        benchmark.measurement(publications, (market.counters.publications + market.counters.heartbeats - published) / Int(replay_s))
        benchmark.measurement(eventRate, Int(Double(recording.isOrder.count) / elapsed / 1_000))
    }

    // Reads: 2 reader threads while the writer replays at 20x real time; each index in
    // turn, in the same iteration.
    let readMetrics: [BenchmarkMetric] = [
        .custom("best_lockfree_ns_x100", polarity: .prefersSmaller), .custom("best_mutex_ns_x100", polarity: .prefersSmaller),
        .custom("best_lockfree_vs_mutex_x10", polarity: .prefersLarger),
        .custom("top10_lockfree_ns_x100", polarity: .prefersSmaller), .custom("top10_mutex_ns_x100", polarity: .prefersSmaller),
        .custom("top10_lockfree_vs_mutex_x10", polarity: .prefersLarger),
        .custom("writer_active_during_reads", polarity: .prefersLarger),
        .custom("best_atomic_reference_ns_x100", polarity: .prefersSmaller),
        .custom("top10_atomic_reference_ns_x100", polarity: .prefersSmaller),
    ]
    Benchmark("read_zone_rankings_2_readers_writer_active", configuration: configuration(readMetrics, iterations: 6)) { benchmark in
        let writer = ReplayWriter()
        let board = writer.market.board
        let mirror = writer.mirror
        let zones = ReplayWriter.zones(of: writer.market).filter { board.best(in: $0) != nil }
        writer.start()
        let bestLockFree = medianReadTime_ns(threads: 2, zones: zones, LockFreeBest(board: board))
        let bestMutex = medianReadTime_ns(threads: 2, zones: zones, MutexBest(rankings: mirror))
        let topLockFree = medianReadTime_ns(threads: 2, zones: zones, LockFreeTop10(board: board))
        let topMutex = medianReadTime_ns(threads: 2, zones: zones, MutexTop10(rankings: mirror))
        let bestReference = medianReadTime_ns(threads: 2, zones: zones, AtomicReferenceBest(rankings: writer.references))
        let topReference = medianReadTime_ns(threads: 2, zones: zones, AtomicReferenceTop10(rankings: writer.references))
        let active = writer.running.load(ordering: .acquiring)
        writer.finish()
        benchmark.measurement(readMetrics[0], Int(bestLockFree * 100))
        benchmark.measurement(readMetrics[1], Int(bestMutex * 100))
        benchmark.measurement(readMetrics[2], Int((10 * bestMutex / bestLockFree).rounded()))
        benchmark.measurement(readMetrics[3], Int(topLockFree * 100))
        benchmark.measurement(readMetrics[4], Int(topMutex * 100))
        benchmark.measurement(readMetrics[5], Int((10 * topMutex / topLockFree).rounded()))
        benchmark.measurement(readMetrics[6], active ? 1 : 0)
        benchmark.measurement(readMetrics[7], Int(bestReference * 100))
        benchmark.measurement(readMetrics[8], Int(topReference * 100))
    }

    let memoryMetrics: [BenchmarkMetric] = [
        .custom("bytes_per_courier", polarity: .prefersSmaller), .custom("bytes_per_restaurant", polarity: .prefersSmaller),
        .custom("bytes_per_open_order", polarity: .prefersSmaller), .custom("bytes_per_published_zone", polarity: .prefersSmaller),
        .custom("zones", polarity: .prefersLarger),
    ]
    Benchmark("memory_austin_market", configuration: configuration(memoryMetrics, iterations: 3)) { benchmark in
        var seen = Set<Identifier>()
        let firstPings = recording.pings.filter { seen.insert($0.courierID).inserted }
        // Raw settings: no refresh (and so no publication) until asked for.
        let board = RankingBoard()
        let empty = heapInUse_bytes()
        var market = MarketState(marketID: austin.marketID, board: board, settings: rawSettings)
        for profile in recording.profiles { market.apply(profile) }
        let withRestaurants = heapInUse_bytes()
        for ping in firstPings { market.apply(ping) }
        let withCouriers = heapInUse_bytes()
        var orders = 0
        for event in orderStream.prefix(20_000) where event.type == .placed { market.apply(event); orders += 1 }
        let withOrders = heapInUse_bytes()
        market.refreshRankings(asOf_ms: (market.clock_ms ?? 0) + 1_000)
        let published = heapInUse_bytes()
        benchmark.measurement(memoryMetrics[0], (withCouriers - withRestaurants) / firstPings.count)
        benchmark.measurement(memoryMetrics[1], (withRestaurants - empty) / recording.profiles.count)
        benchmark.measurement(memoryMetrics[2], (withOrders - withCouriers) / orders)
        benchmark.measurement(memoryMetrics[3], (published - withOrders) / board.zoneCount)
        benchmark.measurement(memoryMetrics[4], board.zoneCount)
        blackHole(market.zoneCount)  // keeps the market alive until the last measurement
    }
}
