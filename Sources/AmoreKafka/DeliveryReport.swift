import CRdKafka

/// The broker's verdict on one produced record.
///
/// Built from plain values only, so a successful report costs no allocation; the
/// `token` is whatever the sender passed to `send`, to find the record again.
public struct DeliveryReport: Sendable {
    public let token: UInt
    public let partition: Int32
    /// The record's offset in its partition, when delivered.
    public let offset: Int64
    /// 0 when the record was delivered, else librdkafka's error code.
    public let errorCode: Int32

    public var isDelivered: Bool { errorCode == 0 }

    /// The failure as an error; built only when asked for.
    public var error: KafkaError? {
        errorCode == 0 ? nil : KafkaError(code: errorCode, context: "delivery of record \(token)")
    }

    public init(token: UInt, partition: Int32, offset: Int64, errorCode: Int32) {
        self.token = token
        self.partition = partition
        self.offset = offset
        self.errorCode = errorCode
    }
}
