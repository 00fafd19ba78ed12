import AmoreSimulation
import Foundation
import Synchronization

/// What a feed has produced, shown as a progress line: rewritten in place on a terminal,
/// a plain line every 5 s otherwise, or kept for another view to show (`amore demo`).
final class FeedProgress: Sendable {
    enum Output: Sendable {
        case terminal, lines, silent
    }

    struct Counts: Sendable {
        var records: [InputTopic: Int] = [:]
        var malformed = 0
        var lastEvent_ms: Int64 = 0
        var started_ns: UInt64 = 0
        /// Records per second by topic over the last report interval.
        var rates: [InputTopic: Double] = [:]
        fileprivate var atLastReport: [InputTopic: Int] = [:]
        fileprivate var lastReport_ns: UInt64 = 0

        var total: Int { records.values.reduce(0, +) }

        /// `orders 12/s, couriers 2,480/s, restaurants 600 | total 45,210, 3 malformed | event time 18:00:12 | 0:18`
        var line: String {
            func grouped(_ value: Int) -> String { value.formatted(.number.grouping(.automatic)) }
            let rates = [InputTopic.orders, .couriers, .restaurants].map { topic in
                "\(topic.rawValue) \(grouped(Int(self.rates[topic, default: 0].rounded())))/s"
            }
            let elapsed_s = started_ns == 0 ? 0 : Int((DispatchTime.now().uptimeNanoseconds - started_ns) / 1_000_000_000)
            let clock = lastEvent_ms > 0 ? " | event time \(utcClock(lastEvent_ms))" : ""
            return "\(rates.joined(separator: ", ")) | total \(grouped(total)), \(malformed) malformed\(clock)"
                + " | elapsed \(elapsed_s / 60):\(String(format: "%02d", elapsed_s % 60))"
        }
    }

    private let output: Output
    private let counts = Mutex(Counts())

    init(output: Output) { self.output = output }

    /// Terminal when standard error is one, else plain lines.
    static func forStandardError() -> FeedProgress {
        FeedProgress(output: isatty(STDERR_FILENO) == 1 ? .terminal : .lines)
    }

    var snapshot: Counts { counts.withLock { $0 } }

    func start() {
        counts.withLock {
            $0.started_ns = DispatchTime.now().uptimeNanoseconds
            $0.lastReport_ns = $0.started_ns
        }
    }

    func count(_ record: SimulatedRecord) {
        counts.withLock {
            $0.records[record.topic, default: 0] += 1
            if record.malformed != nil { $0.malformed += 1 }
            $0.lastEvent_ms = max($0.lastEvent_ms, record.timestamp_ms)
        }
    }

    /// Updates the rates once a second, and prints when it is time to.
    func report() {
        let now_ns = DispatchTime.now().uptimeNanoseconds
        let interval_ns: UInt64 = output == .lines ? 5_000_000_000 : 1_000_000_000
        guard let line = counts.withLock({ counts -> String? in
            guard now_ns - counts.lastReport_ns >= interval_ns else { return nil }
            let seconds = Double(now_ns - counts.lastReport_ns) / 1e9
            for topic in InputTopic.allCases {
                counts.rates[topic] = Double(counts.records[topic, default: 0] - counts.atLastReport[topic, default: 0]) / seconds
            }
            counts.atLastReport = counts.records
            counts.lastReport_ns = now_ns
            return counts.line
        }) else { return }
        show(line, isFinal: false)
    }

    /// The final line.
    func finish() {
        show(counts.withLock { $0.line }, isFinal: true)
    }

    private func show(_ line: String, isFinal: Bool) {
        switch output {
        case .terminal: FileHandle.standardError.write(Data("\r\u{1B}[K\(line)\(isFinal ? "\n" : "")".utf8))
        case .lines: FileHandle.standardError.write(Data("\(line)\n".utf8))
        case .silent: break
        }
    }
}

/// `18:00:12 UTC`: the time of day of an event time.
func utcClock(_ time_ms: Int64) -> String {
    let seconds = (time_ms / 1_000) % 86_400
    return String(format: "%02d:%02d:%02d UTC", seconds / 3_600, (seconds / 60) % 60, seconds % 60)
}
