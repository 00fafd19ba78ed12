// A partition pair as big as the checkpoint target (issue: restore in seconds): two
// markets with 1,000,000 couriers, 100,000 restaurants and 200,000 open orders between
// them (restaurants over a 40 km square around Austin, delivery radius 1.5 km, zones of
// precision 6), rankings refreshed once so that every zone's last publication is in it.
//
// - checkpoint_write: both markets encoded, with the CRC-32C (what the engine thread pays);
// - checkpoint_load: both restored onto a new board (what a new owner pays before replay);
// - rebuild_from_events (baseline, same run): the fewest events that make the same state
//   applied to a new market (one profile per restaurant, one ping per courier, one event
//   per order), the floor under any replay (a real replay has hours of events).
// Bytes per courier, restaurant and order are printed once, from markets holding only one
// of them.
import AmoreCore
import Benchmark
import Foundation

let austinCentre = (lat_deg: 30.2672, lon_deg: -97.7431)
let t0_ms: Int64 = 1_800_000_000_000

struct PairInput {
    var profiles: [RestaurantProfile] = []
    var pings: [CourierPing] = []
    var orders: [OrderEvent] = []
}

func input(market: String, restaurants: Int, couriers: Int, orders: Int, seed: UInt64) -> PairInput {
    var random = SplitMix(seed)
    let marketID = Identifier(validating: market)!
    func point() -> (Double, Double) {
        (austinCentre.lat_deg + (random.unit() - 0.5) * 0.36, austinCentre.lon_deg + (random.unit() - 0.5) * 0.42)
    }
    var result = PairInput()
    for index in 0..<restaurants {
        let (lat, lon) = point()
        result.profiles.append(RestaurantProfile(
            restaurantID: Identifier(validating: "\(market)-r\(index)")!, marketID: marketID, name: "R\(index)", lat_deg: lat,
            lon_deg: lon, styles: PizzaStyles(rawValue: UInt16(1 + index % 63)), ovens: 1 + index % 4, defaultPrep_s: 600 + index % 300,
            deliveryRadius_m: 1_500, isOpen: true, updatedAt_ms: t0_ms - 60_000))
    }
    for index in 0..<couriers {
        let (lat, lon) = point()
        result.pings.append(CourierPing(courierID: Identifier(validating: "\(market)-c\(index)")!, marketID: marketID, lat_deg: lat,
                                        lon_deg: lon, status: index % 3 == 0 ? .delivering : .available, eventTime_ms: t0_ms))
    }
    for index in 0..<orders {
        result.orders.append(OrderEvent(
            eventID: Identifier(validating: "\(market)-e\(index)")!,
            restaurantID: Identifier(validating: "\(market)-r\(index % max(1, restaurants))")!, marketID: marketID,
            orderID: Identifier(validating: "\(market)-o\(index)")!, type: index % 2 == 0 ? .placed : .started, channel: .delivery,
            eventTime_ms: t0_ms))
    }
    return result
}

struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

func newBoard() -> RankingBoard { RankingBoard(maxZones: 1 << 15, maxIdentifiers: 1 << 18) }

func build(_ input: PairInput, market: String, board: RankingBoard, refresh: Bool) -> MarketState {
    var state = MarketState(marketID: Identifier(validating: market)!, board: board)
    for profile in input.profiles { state.apply(profile) }
    for ping in input.pings { state.apply(ping) }
    for order in input.orders { state.apply(order) }
    if refresh { state.refreshRankings(asOf_ms: t0_ms + 1_000) }
    _ = state.takePublishedZones()
    return state
}

func bytes(of state: borrowing MarketState) -> Int {
    var writer = CheckpointWriter()
    state.write(to: &writer)
    return writer.bytes.count
}

let markets = ["austin", "austin-north"]
let inputs = markets.enumerated().map { index, market in
    input(market: market, restaurants: 50_000, couriers: 500_000, orders: 100_000, seed: UInt64(index + 1))
}

/// A market's state in a box, so that an array can hold it (`MarketState` is non-copyable).
final class StateBox {
    var state: MarketState
    init(_ state: consuming MarketState) { self.state = state }
}

final class Built: @unchecked Sendable {
    var states: [StateBox] = []
    init() {
        let board = newBoard()
        for (market, input) in zip(markets, inputs) {
            states.append(StateBox(build(input, market: market, board: board, refresh: true)))
        }
    }
}

func log(_ text: String) { FileHandle.standardError.write(Data("checkpoint-restore: \(text)\n".utf8)) }

let benchmarks: @Sendable () -> Void = {
    let built = Built()
    var encoded: [UInt8] = []
    do {
        var writer = CheckpointWriter()
        for box in built.states { box.state.write(to: &writer) }
        encoded = writer.bytes
        // Per-entity bytes from single-kind markets of 100,000.
        let board = newBoard()
        let empty = bytes(of: build(PairInput(), market: "m0", board: board, refresh: false))
        let only = input(market: "m1", restaurants: 100_000 / 2, couriers: 100_000, orders: 100_000, seed: 9)
        let couriers = bytes(of: build(PairInput(pings: only.pings), market: "m2", board: board, refresh: false)) - empty
        let restaurants = bytes(of: build(PairInput(profiles: only.profiles), market: "m3", board: board, refresh: false)) - empty
        let withOrders = bytes(of: build(PairInput(profiles: only.profiles, orders: only.orders), market: "m4", board: board, refresh: false))
        log("pair checkpoint \(encoded.count / 1_000_000) MB; bytes per courier \(couriers / 100_000), per restaurant "
            + "\(restaurants / 50_000) (with its zone list), per open order \((withOrders - empty - restaurants) / 100_000)")
    }
    let bytesForLoad = encoded
    let tolerance = BenchmarkThresholds(relative: [.p50: 30.0])
    let configuration = Benchmark.Configuration(metrics: [.wallClock], warmupIterations: 1, maxDuration: .seconds(120),
                                                maxIterations: 5, thresholds: [.wallClock: tolerance])

    Benchmark("checkpoint_write", configuration: configuration) { benchmark in
        var writer = CheckpointWriter(reservingCapacity: bytesForLoad.count + 4_096)
        for box in built.states { box.state.write(to: &writer) }
        let crc = writer.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        blackHole(crc)
    }

    Benchmark("checkpoint_load", configuration: configuration) { benchmark in
        let board = newBoard()
        benchmark.startMeasurement()
        _ = bytesForLoad.withUnsafeBytes { CRC32C.checksum($0) }
        var reader = CheckpointReader(bytesForLoad)
        for _ in markets {
            let state = try MarketState.restored(from: &reader, board: board, settings: MarketSettings())
            blackHole(state.courierCount)
        }
        benchmark.stopMeasurement()
    }

    Benchmark("rebuild_from_events", configuration: configuration) { benchmark in
        let board = newBoard()
        benchmark.startMeasurement()
        for (market, input) in zip(markets, inputs) {
            let state = build(input, market: market, board: board, refresh: true)
            blackHole(state.courierCount)
        }
        benchmark.stopMeasurement()
    }
}
