import CRdKafka
import Logging
import Synchronization

/// What librdkafka calls back into: the conf opaque of every handle.
final class RDKafkaCallbacks: Sendable {
    let logger: Logger
    let onError: @Sendable (KafkaError) -> Void
    let onDelivery: (@Sendable (DeliveryReport) -> Void)?
    let onRebalance: (@Sendable (RDKafkaCallbacks, OpaquePointer, rd_kafka_resp_err_t, RDKafkaTopicPartitionList.Pointer) -> Void)?
    /// The last few problems librdkafka reported (error events, error-level log lines),
    /// to explain a later timeout or transport failure: a connection failure is usually
    /// followed by a vaguer "all brokers are down", and both are worth telling.
    private let recentProblems = Mutex<[String]>([])

    func noteProblem(_ message: String) {
        recentProblems.withLock { problems in
            problems.removeAll { $0 == message }
            problems.append(message)
            if problems.count > 3 { problems.removeFirst() }
        }
    }

    var problemSummary: String? {
        recentProblems.withLock { $0.isEmpty ? nil : $0.joined(separator: "; ") }
    }
    /// Set once, right after the handle exists and before any poll can call back.
    nonisolated(unsafe) weak var client: RDKafkaClient?

    init(logger: Logger,
         onError: (@Sendable (KafkaError) -> Void)?,
         onDelivery: (@Sendable (DeliveryReport) -> Void)? = nil,
         onRebalance: (@Sendable (RDKafkaCallbacks, OpaquePointer, rd_kafka_resp_err_t, RDKafkaTopicPartitionList.Pointer) -> Void)? = nil) {
        self.logger = logger
        self.onError = onError ?? { error in logger.warning("kafka client error", metadata: ["error": "\(error)"]) }
        self.onDelivery = onDelivery
        self.onRebalance = onRebalance
    }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> RDKafkaCallbacks? {
        opaque.map { Unmanaged<RDKafkaCallbacks>.fromOpaque($0).takeUnretainedValue() }
    }
}

/// Owns one `rd_kafka_t` and destroys it when the last user (producer, consumer,
/// topic handle or partition queue) lets go.
final class RDKafkaClient: @unchecked Sendable {
    // @unchecked: `handle` is immutable and librdkafka's handle API is thread-safe.
    let handle: OpaquePointer
    let callbacks: RDKafkaCallbacks
    let kind: String

    static let minimumVersion: Int32 = 0x0208_00ff

    /// - Parameter servesEvents: whether someone polls this handle; if not, errors are not
    ///   queued as events (they would pile up unread) and reach us through the log only.
    init(type: rd_kafka_type_t, configuration: KafkaConfiguration, callbacks: RDKafkaCallbacks,
         servesEvents: Bool = true, configure: (OpaquePointer) -> Void = { _ in }) throws {
        try Self.checkLoadedVersion()
        kind = type == RD_KAFKA_PRODUCER ? "producer" : "consumer"
        let conf = rd_kafka_conf_new()!
        var errorText = [CChar](repeating: 0, count: 512)
        // Sorted so that the first bad property reported is deterministic.
        for (key, value) in configuration.properties.sorted(by: { $0.key < $1.key }) {
            let result = rd_kafka_conf_set(conf, key, value, &errorText, errorText.count)
            if result != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw KafkaError.configuration(property: key, message: String(decodingCString: errorText))
            }
        }
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(callbacks).toOpaque())
        rd_kafka_conf_set_log_cb(conf, rdKafkaLogCallback)
        if servesEvents { rd_kafka_conf_set_error_cb(conf, rdKafkaErrorCallback) }
        configure(conf)
        // rd_kafka_new owns conf on success only.
        guard let handle = rd_kafka_new(type, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(RD_KAFKA_RESP_ERR__INVALID_ARG, message: String(decodingCString: errorText), context: "create \(kind)")
        }
        self.handle = handle
        self.callbacks = callbacks
        callbacks.client = self
    }

    deinit {
        rd_kafka_destroy(handle)
    }

    /// Fails fast when the loader picked an older librdkafka than the headers we built with.
    static func checkLoadedVersion() throws {
        let loaded = rd_kafka_version()
        if loaded < minimumVersion {
            throw KafkaError(RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED,
                             message: "loaded librdkafka \(String(cString: rd_kafka_version_str())) is older than 2.8.0; run scripts/setup and check the loader path (ldconfig -p | grep rdkafka)",
                             context: "librdkafka version check")
        }
    }

    /// librdkafka's version as loaded at run time, e.g. "2.8.0".
    static var loadedVersion: String { String(cString: rd_kafka_version_str()) }

    func metadata(topic: String?, timeout_ms: Int32) throws -> ClusterMetadata {
        var topicHandle: OpaquePointer?
        if let topic {
            topicHandle = rd_kafka_topic_new(handle, topic, nil)
        }
        defer { if let topicHandle { rd_kafka_topic_destroy(topicHandle) } }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(handle, topic == nil ? 1 : 0, topicHandle, &metadata, timeout_ms)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw explained(KafkaError(err, context: "metadata request (\(timeout_ms) ms)"))
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        return ClusterMetadata(metadata.pointee)
    }

    /// A timeout says little on its own; add what librdkafka last complained about.
    func explained(_ error: KafkaError) -> KafkaError {
        guard error.code == KafkaError.timedOutCode || error.code == KafkaError.transportCode,
              let problems = callbacks.problemSummary else { return error }
        return KafkaError(code: error.code, message: "\(error.message); recent broker errors: \(problems)", context: error.context)
    }
}

private let rdKafkaLogCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = { handle, level, facility, text in
    guard let handle, let callbacks = RDKafkaCallbacks.from(rd_kafka_opaque(handle)) else { return }
    var logLevel: Logger.Level = switch level {
    case ...2: .critical
    case 3: .error
    case 4: .warning
    case 5: .notice
    case 6: .info
    default: .debug
    }
    let message = text.map { String(cString: $0) } ?? ""
    // One set of properties (`--kafka`, AMORE_KAFKA) configures every client of a process;
    // that a producer ignores `session.timeout.ms` is expected, not a warning (it was six
    // lines at every engine start).
    if message.hasSuffix("property and will be ignored by this producer instance")
        || message.hasSuffix("property and will be ignored by this consumer instance") {
        logLevel = .debug
    }
    if level <= 3 { callbacks.noteProblem(message) }
    callbacks.logger.log(level: logLevel, "\(message)",
                         metadata: ["facility": "\(facility.map { String(cString: $0) } ?? "")"])
}

private let rdKafkaErrorCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = { handle, code, reason, opaque in
    guard let callbacks = RDKafkaCallbacks.from(opaque) else { return }
    var error = KafkaError(code: code, message: reason.map { String(cString: $0) }, context: "kafka client")
    if code == RD_KAFKA_RESP_ERR__FATAL.rawValue, let handle {
        var text = [CChar](repeating: 0, count: 512)
        let original = rd_kafka_fatal_error(handle, &text, text.count)
        error = KafkaError(original, message: "fatal: \(String(decodingCString: text))", context: "kafka client")
    }
    callbacks.noteProblem(error.message)
    callbacks.onError(error)
}

extension String {
    /// Decodes the NUL-terminated text librdkafka wrote into an error buffer.
    init(decodingCString buffer: [CChar]) {
        self = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
