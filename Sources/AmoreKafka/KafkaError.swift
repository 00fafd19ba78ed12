import CRdKafka

/// An error from librdkafka or from this layer, carrying librdkafka's code and text.
///
/// `code` is librdkafka's `rd_kafka_resp_err_t` (negative: local to the client,
/// positive: returned by the broker); `name` its symbolic name (`_TRANSPORT`,
/// `UNKNOWN_TOPIC_OR_PART`, ...). `context` says what was being done.
public struct KafkaError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: Int32
    public let name: String
    public let message: String
    public let context: String

    public init(code: Int32, message: String? = nil, context: String) {
        let err = rd_kafka_resp_err_t(rawValue: code)
        self.code = code
        self.name = String(cString: rd_kafka_err2name(err))
        self.message = message ?? String(cString: rd_kafka_err2str(err))
        self.context = context
    }

    init(_ err: rd_kafka_resp_err_t, message: String? = nil, context: String) {
        self.init(code: err.rawValue, message: message, context: context)
    }

    /// Takes ownership of (and destroys) a librdkafka error object.
    init(consuming error: OpaquePointer, context: String) {
        let code = rd_kafka_error_code(error).rawValue
        let text = String(cString: rd_kafka_error_string(error))
        rd_kafka_error_destroy(error)
        self.init(code: code, message: text, context: context)
    }

    /// A configuration property that librdkafka refused, with its own explanation.
    static func configuration(property: String, message: String) -> KafkaError {
        KafkaError(RD_KAFKA_RESP_ERR__INVALID_ARG, message: message, context: "configuration property '\(property)'")
    }

    static func closed(_ what: String) -> KafkaError {
        KafkaError(RD_KAFKA_RESP_ERR__DESTROY, message: "\(what) is closed", context: what)
    }

    public var description: String { "\(context): \(message) (\(name), code \(code))" }

    public static let timedOutCode = RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue
    public static let allBrokersDownCode = RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue
    public static let transportCode = RD_KAFKA_RESP_ERR__TRANSPORT.rawValue
    public static let messageTimedOutCode = RD_KAFKA_RESP_ERR__MSG_TIMED_OUT.rawValue

    /// The group no longer counts this member (a commit or heartbeat after its session
    /// timed out, or after it was fenced): what it owned may belong to another member.
    public var meansGroupMembershipLost: Bool {
        [RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
         RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID, RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST].map(\.rawValue).contains(code)
    }
}
