import AmoreCore
import AmoreKafka
import Logging

/// Produces everything the engine writes (rankings, dead letters, checkpoint chunks),
/// each registered with the `PublicationLedger` so that offsets are committed only after
/// what was produced before them is acknowledged. Engine thread, except the delivery
/// reports (the producer's thread), which only touch the ledger and the delay metric.
final class Publisher {
    let ledger = PublicationLedger()
    private let producer: Producer
    private let rankings: ProducerTopic
    private let deadLetters: ProducerTopic
    private let checkpoints: ProducerTopic
    private let metrics: EngineMetrics
    private let logger: Logger
    /// Reused by every publication (the board reads into it without allocating).
    private var scratchSnapshot = ZoneSnapshot()
    /// On every ranking and dead letter (dead letters add their reason).
    private static let outputHeaders = [
        RecordHeader("content-type", "application/json"), RecordHeader("schema_version", "\(currentSchemaVersion)"),
    ]

    /// - Parameter onPublished: called on the producer's thread for each acknowledged
    ///   ranking with its delay from the CreateTime of the record that triggered it.
    init(settings: EngineSettings, metrics: EngineMetrics, logger: Logger,
         onPublished: (@Sendable (_ delay_ns: Int64) -> Void)?) throws {
        self.metrics = metrics
        self.logger = logger
        producer = try Producer(
            configuration: settings.kafka.withDefaults(settings.producerProperties), logger: logger,
            onError: { [logger] error in logger.warning("producer: \(error)") },
            onDelivery: { [ledger, metrics] report in
                guard let delay_ms = ledger.acknowledge(report, now_ms: Clock.wall_ms()), report.isDelivered else { return }
                let delay_ns = delay_ms * 1_000_000
                metrics.eventToPublication.recordNanoseconds(delay_ns)
                onPublished?(delay_ns)
            })
        rankings = try producer.topic(settings.topics.rankings)
        deadLetters = try producer.topic(settings.topics.deadLetters)
        checkpoints = try producer.topic(settings.topics.checkpoints)
    }

    /// Sends each zone's ranking as the board holds it.
    func publish(_ zones: [GeohashCell], board: RankingBoard, createTime_ms: Int64) throws {
        for zone in zones {
            guard board.read(zone, into: &scratchSnapshot) else { continue }
            try send(rankings, key: Array(zone.description.utf8),
                     value: OutputEncoder.encode(zone: zone, snapshot: scratchSnapshot, board: board),
                     headers: Self.outputHeaders, createTime_ms: createTime_ms)
            metrics.publications.increment()
        }
    }

    func deadLetter(_ record: ConsumerRecord, _ rejection: EventRejection) throws {
        metrics.rejects[rejection.reason]?.increment()
        let letter = DeadLetter(rejection: rejection, sourceTopic: record.topic, sourcePartition: record.partition,
                                sourceOffset: record.offset, sourceTimestamp_ms: record.timestamp_ms,
                                key: record.key.map { Array($0) }, value: record.value.map { Array($0) },
                                rejectedAt_ms: Clock.wall_ms())
        try send(deadLetters, key: letter.key, value: OutputEncoder.encode(letter),
                 headers: Self.outputHeaders + [RecordHeader("reason", rejection.reason.rawValue)], createTime_ms: 0)
        metrics.deadLetters.increment()
        logger.debug("dead letter", metadata: [
            "source": "\(letter.sourceTopic)[\(letter.sourcePartition)]@\(letter.sourceOffset)", "reason": "\(rejection)",
        ])
    }

    func sendCheckpoint(_ chunks: [(partition: Int32, key: [UInt8], value: [UInt8])]) throws {
        for chunk in chunks {
            try send(checkpoints, partition: chunk.partition, key: chunk.key, value: chunk.value, headers: [], createTime_ms: 0)
        }
    }

    /// Waits until everything sent has been acknowledged; throws the first delivery failure.
    func flush() throws {
        try producer.flush(timeout_ms: 30_000)
        if let failure = ledger.failure { throw EngineError.publicationFailed(failure) }
    }

    private func send(_ topic: ProducerTopic, partition: Int32? = nil, key: [UInt8]?, value: [UInt8],
                      headers: [RecordHeader], createTime_ms: Int64) throws {
        let token = ledger.token(createTime_ms: createTime_ms)
        do {
            try value.withUnsafeBytes { value in
                if let key {
                    try key.withUnsafeBytes { key in
                        try producer.send(to: topic, partition: partition, key: key, value: value, headers: headers, token: token)
                    }
                } else {
                    try producer.send(to: topic, partition: partition, key: nil, value: value, headers: headers, token: token)
                }
            }
        } catch {
            ledger.withdraw(token)
            throw error
        }
    }
}
