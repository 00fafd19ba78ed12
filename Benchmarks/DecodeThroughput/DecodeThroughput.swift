// Event decoding: AmoreCore's EventDecoder against Foundation's JSONDecoder on the same
// ~200-byte documents (fields in shuffled order, numbers at full precision), in the same run.
import AmoreCore
import Benchmark
import Foundation

let documentCount = 1_000
let recordTimestamp_ms: Int64 = 1_764_000_060_000

/// Members of a flat object in random order.
func shuffledObject(_ members: [(String, String)], _ random: inout SplitMix64) -> [UInt8] {
    Array(("{" + members.shuffled(using: &random).map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}").utf8)
}

/// Uniform in [0, 1). Positions, speeds and headings computed by a producer print with
/// 15-17 significant digits (as the simulator's do), the expensive case for a parser.
func unit(_ random: inout SplitMix64) -> Double { Double(random.next() >> 11) / Double(1 << 53) }

let courierDocuments: [[UInt8]] = {
    var random = SplitMix64(seed: 7)
    return (0..<documentCount).map { i in
        shuffledObject([("schema_version", "1"), ("courier_id", "\"austin-courier-\(10_000 + i)\""), ("market_id", "\"austin\""),
                        ("lat", "\(30.2 + unit(&random) / 10)"), ("lon", "\(-97.75 + unit(&random) / 10)"),
                        ("status", i % 3 == 0 ? "\"to_restaurant\"" : "\"available\""), ("event_time_ms", "\(1_764_000_000_000 + i * 4)"),
                        ("speed_mps", "\(4 + 7 * unit(&random))"), ("heading_deg", "\(360 * unit(&random))")], &random)
    }
}()

let orderDocuments: [[UInt8]] = {
    var random = SplitMix64(seed: 11)
    let types = ["placed", "started", "ready", "picked_up", "cancelled"]
    return (0..<documentCount).map { i in
        shuffledObject([("schema_version", "1"), ("event_id", "\"evt-\(900_000_000 + i)\""), ("restaurant_id", "\"austin-restaurant-\(100 + i % 600)\""),
                        ("market_id", "\"austin\""), ("order_id", "\"order-\(50_000_000 + i / 4)\""), ("type", "\"\(types[i % 5])\""),
                        ("channel", i % 4 == 0 ? "\"pickup\"" : "\"delivery\""), ("event_time_ms", "\(1_764_000_000_000 + i * 37)")], &random)
    }
}()

let marketKey = Array("austin".utf8)

// What Foundation decodes: the same fields, Codable.
struct FoundationCourierPing: Decodable {
    let schema_version: Int
    let courier_id: String
    let market_id: String
    let lat: Double
    let lon: Double
    let status: String
    let event_time_ms: Int64
    let speed_mps: Double?
    let heading_deg: Double?
}

struct FoundationOrderEvent: Decodable {
    let schema_version: Int
    let event_id: String
    let restaurant_id: String
    let market_id: String
    let order_id: String
    let type: String
    let channel: String
    let event_time_ms: Int64
}

/// Decodes every document with `decoder`, folding each event into a checksum so that
/// nothing is optimised away. Inlined into each caller, so the decoder call is direct.
@inline(__always)
func decodeAll<Event>(_ documents: [[UInt8]], _ decoder: (UnsafeRawBufferPointer, RecordContext) throws(EventRejection) -> Event,
                      _ weight: (Event) -> Int) -> Int {
    var checksum = 0
    marketKey.withUnsafeBytes { key in
        let context = RecordContext(key: key, timestamp_ms: recordTimestamp_ms)
        for document in documents {
            document.withUnsafeBytes { bytes in
                if let event = try? decoder(bytes, context) { checksum &+= weight(event) }
            }
        }
    }
    return checksum
}

@inline(never)
func decodeAllPings() -> Int {
    decodeAll(courierDocuments, EventDecoder.decodeCourierPing) { Int($0.status.rawValue) &+ Int($0.courierID.count) }
}

@inline(never)
func decodeAllOrders() -> Int {
    decodeAll(orderDocuments, EventDecoder.decodeOrderEvent) { Int($0.type.rawValue) &+ Int($0.orderID.count) }
}

let foundationDecoder = JSONDecoder()
let courierData = courierDocuments.map { Data($0) }
let orderData = orderDocuments.map { Data($0) }

/// The same for Foundation's JSONDecoder and a Codable twin of the event.
@inline(__always)
func foundationDecodeAll<Event: Decodable>(_ documents: [Data], _ type: Event.Type, _ weight: (Event) -> Int) -> Int {
    var checksum = 0
    for data in documents {
        if let event = try? foundationDecoder.decode(type, from: data) { checksum &+= weight(event) }
    }
    return checksum
}

@inline(never)
func foundationDecodeAllPings() -> Int {
    foundationDecodeAll(courierData, FoundationCourierPing.self) { $0.status.count &+ $0.courier_id.count }
}

@inline(never)
func foundationDecodeAllOrders() -> Int {
    foundationDecodeAll(orderData, FoundationOrderEvent.self) { $0.type.count &+ $0.order_id.count }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func eventsPerSecond(_ body: () -> Int) -> Double {
    let start = ContinuousClock.now
    blackHole(body())
    return Double(documentCount) / seconds(ContinuousClock.now - start)
}

let benchmarks: @Sendable () -> Void = {
    precondition(decodeAllPings() > 0 && foundationDecodeAllPings() > 0, "every benchmark document decodes")
    let averageBytes = courierDocuments.map(\.count).reduce(0, +) / documentCount
    let orderBytes = orderDocuments.map(\.count).reduce(0, +) / documentCount
    FileHandle.standardError.write(Data("documents: courier pings \(averageBytes) B, order events \(orderBytes) B on average\n".utf8))

    // Each event alone: throughput (k events/s, scaled) and mallocs per event.
    let single = Benchmark.Configuration(metrics: [.throughput, .wallClock, .mallocCountTotal], scalingFactor: .kilo,
                                         maxDuration: .seconds(3), maxIterations: 2_000,
                                         thresholds: [.throughput: .init(relative: [.p50: 25.0]), .wallClock: .init(relative: [.p50: 25.0]),
                                                      .mallocCountTotal: .init(absolute: [.p50: 0])])
    Benchmark("decode_courier_ping_amore", configuration: single) { _ in blackHole(decodeAllPings()) }
    Benchmark("decode_courier_ping_foundation", configuration: single) { _ in blackHole(foundationDecodeAllPings()) }
    Benchmark("decode_order_event_amore", configuration: single) { _ in blackHole(decodeAllOrders()) }
    Benchmark("decode_order_event_foundation", configuration: single) { _ in blackHole(foundationDecodeAllOrders()) }

    // Interleaved pairs: the ratio comes from the same moments of the same run.
    func pair(_ name: String, amore: @escaping () -> Int, foundation: @escaping () -> Int) {
        let metrics: [BenchmarkMetric] = [.custom("\(name)_amore_kevents_per_s", polarity: .prefersLarger),
                                          .custom("\(name)_foundation_kevents_per_s", polarity: .prefersLarger),
                                          .custom("\(name)_amore_vs_foundation_x10", polarity: .prefersLarger)]
        let tolerance = BenchmarkThresholds(relative: [.p50: 25.0])
        Benchmark("decode_\(name)_vs_foundation",
                  configuration: .init(metrics: metrics, maxDuration: .seconds(5), maxIterations: 200,
                                       thresholds: Dictionary(uniqueKeysWithValues: metrics.map { ($0, tolerance) }))) { benchmark in
            let amoreRate = eventsPerSecond(amore)
            let foundationRate = eventsPerSecond(foundation)
            benchmark.measurement(metrics[0], Int(amoreRate / 1_000))
            benchmark.measurement(metrics[1], Int(foundationRate / 1_000))
            benchmark.measurement(metrics[2], Int((10 * amoreRate / foundationRate).rounded()))
        }
    }
    pair("courier_ping", amore: decodeAllPings, foundation: foundationDecodeAllPings)
    pair("order_event", amore: decodeAllOrders, foundation: foundationDecodeAllOrders)
}
