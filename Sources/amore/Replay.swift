import AmoreEngine
import AmoreSimulation
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle

struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Produce a recorded NDJSON stream (amore simulate --out) to Kafka, at its original pace or faster.",
        discussion: """
        Every record keeps its key, bytes and timestamp, so the engine sees what it saw when \
        the stream was recorded (an incident replay). The pace is anchored at the first \
        order or ping: records before it go at once. A line that cannot be read stops the \
        replay with its number and what is wrong. With no brokers configured a local broker \
        is started.
        """
    )

    @Argument(help: "The NDJSON file.")
    var file: String
    @Option(help: "Speed-up of event time: 1 is the original pace, 10 ten times faster, max as fast as possible.")
    var speed = Pace.speed(1)
    @OptionGroup var kafkaOptions: KafkaOptions
    @OptionGroup var topicOptions: TopicOptions
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let (layers, logger) = try await common.load()
        var source = try FileSource(path: file)
        let anchor_ms = try source.firstEventTime_ms()
        try await InputFeed.run(name: "amore-replay", source: source, anchor_ms: anchor_ms, pace: speed,
                                kafkaOptions: kafkaOptions, topicOptions: topicOptions, layers: layers, logger: logger)
    }
}

/// The records of an NDJSON file, read a block at a time.
struct FileSource: RecordSource, Sendable {
    private let handle: FileHandle
    private var pending: [UInt8] = []
    private var lineNumber = 0
    private var isAtEnd = false

    init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ValidationError("cannot read \(path)") }
        self.handle = handle
    }

    /// The timestamp of the first order or ping (the file is read again from the start after).
    mutating func firstEventTime_ms() throws -> Int64 {
        defer {
            try? handle.seek(toOffset: 0)
            pending = []
            lineNumber = 0
            isAtEnd = false
        }
        while let records = try nextRecords() {
            if let first = records.first(where: { $0.topic != .restaurants }) { return first.timestamp_ms }
        }
        throw ValidationError("the file has no order or courier records")
    }

    mutating func nextRecords() throws -> [SimulatedRecord]? {
        while !isAtEnd && pending.firstIndex(of: UInt8(ascii: "\n")) == nil {
            let block = try handle.read(upToCount: 1 << 20) ?? Data()
            if block.isEmpty { isAtEnd = true } else { pending += block }
        }
        guard !pending.isEmpty else { return nil }
        let end = isAtEnd ? pending.count : pending.lastIndex(of: UInt8(ascii: "\n"))! + 1
        var records: [SimulatedRecord] = []
        for line in pending[..<end].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { continue }
            do {
                records.append(try RecordFile.record(fromLine: Substring(decoding: line, as: UTF8.self), number: lineNumber))
            } catch {
                throw ValidationError("\(error)")
            }
        }
        // The split of "a\nb\n" ends with an empty piece that is not a line.
        if pending[end - 1] == UInt8(ascii: "\n") { lineNumber -= 1 }
        pending.removeFirst(end)
        return records
    }
}
