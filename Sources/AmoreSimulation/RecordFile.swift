import AmoreCore
import Foundation

/// The NDJSON form of a recorded stream (`amore simulate --out`, `amore replay`): one
/// record a line, in the order produced,
///
///     {"topic":"orders","key":"austin","timestamp_ms":1767225600412,"value":"{\"schema_version\":1,...}"}
///
/// `value` is the record's exact bytes as a JSON string (so a deliberately broken record
/// survives the round trip byte for byte), and `malformed` names the rejection reason of
/// one broken on purpose.
public enum RecordFile {
    public struct LineError: Error, CustomStringConvertible {
        public let line: Int
        public let message: String
        public var description: String { "line \(line): \(message)" }
    }

    public static func line(_ record: SimulatedRecord) -> [UInt8] {
        var writer = JSONWriter(capacity: record.value.count + 96)
        writer.beginObject()
        writer.key("topic"); writer.value(record.topic.rawValue)
        writer.key("key"); writer.value(String(decoding: record.key, as: UTF8.self))
        writer.key("timestamp_ms"); writer.value(record.timestamp_ms)
        if let malformed = record.malformed { writer.key("malformed"); writer.value(malformed.rawValue) }
        writer.key("value"); writer.value(String(decoding: record.value, as: UTF8.self))
        writer.endObject()
        return writer.bytes + [UInt8(ascii: "\n")]
    }

    /// Parses one line; `number` (1-based) goes into the error.
    public static func record(fromLine text: Substring, number: Int) throws(LineError) -> SimulatedRecord {
        func fail(_ message: String) -> LineError { LineError(line: number, message: message) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw fail("not a JSON object")
        }
        guard let topicName = object["topic"] as? String else { throw fail("field topic: missing or not a string") }
        guard let topic = InputTopic(rawValue: topicName) else {
            throw fail("field topic: '\(topicName)' is not one of \(InputTopic.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let key = object["key"] as? String else { throw fail("field key: missing or not a string") }
        guard let timestamp = object["timestamp_ms"] as? NSNumber, let timestamp_ms = Int64(exactly: timestamp.doubleValue) else {
            throw fail("field timestamp_ms: missing or not a whole number")
        }
        guard let value = object["value"] as? String else { throw fail("field value: missing or not a string") }
        var malformed: EventRejection.Reason?
        if let reason = object["malformed"] as? String {
            guard let known = EventRejection.Reason(rawValue: reason) else { throw fail("field malformed: unknown reason '\(reason)'") }
            malformed = known
        }
        return SimulatedRecord(topic: topic, key: Array(key.utf8), value: Array(value.utf8),
                               timestamp_ms: timestamp_ms, malformed: malformed)
    }
}
