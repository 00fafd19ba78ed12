import CRdKafka

/// A fetched record, viewed in place: key and value point into librdkafka's buffer.
///
/// Valid only inside the `poll` closure that produced it; copy what must outlive it.
public struct ConsumerRecord {
    let message: UnsafeMutablePointer<rd_kafka_message_t>

    public var partition: Int32 { message.pointee.partition }
    public var offset: Int64 { message.pointee.offset }

    /// The topic's name as a C string owned by librdkafka (no allocation).
    public var topicCString: UnsafePointer<CChar> { rd_kafka_topic_name(message.pointee.rkt) }
    public var topic: String { String(cString: topicCString) }

    /// nil for a record with a null key.
    public var key: UnsafeRawBufferPointer? {
        guard let key = message.pointee.key else { return nil }
        return UnsafeRawBufferPointer(start: key, count: message.pointee.key_len)
    }

    /// nil for a tombstone (null value).
    public var value: UnsafeRawBufferPointer? {
        guard let payload = message.pointee.payload else { return nil }
        return UnsafeRawBufferPointer(start: payload, count: message.pointee.len)
    }

    /// The record's timestamp (CreateTime as set by the producer, or LogAppendTime).
    public var timestamp_ms: Int64 {
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        return rd_kafka_message_timestamp(message, &type)
    }

    /// The last header called `name`, in place; `.some(nil)` for a null-valued header.
    public func header(named name: String) -> UnsafeRawBufferPointer?? {
        var headers: OpaquePointer?
        guard rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR, let headers else { return nil }
        var value: UnsafeRawPointer?
        var size = 0
        guard rd_kafka_header_get_last(headers, name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        guard let value else { return .some(nil) }
        return UnsafeRawBufferPointer(start: value, count: size)
    }

    /// All headers, copied, in order.
    public var headers: [RecordHeader] {
        var headers: OpaquePointer?
        guard rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR, let headers else { return [] }
        var result: [RecordHeader] = []
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        var index = 0
        while rd_kafka_header_get_all(headers, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }
            result.append(RecordHeader(String(cString: name!), bytes))
            index += 1
        }
        return result
    }
}
