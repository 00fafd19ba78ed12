/// Why an input record was refused: a stable, machine-readable code (it goes to the
/// dead-letter topic and to metrics) plus the field and a message for people.
public struct EventRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable, CaseIterable {
        case malformedJSON = "malformed_json"
        case invalidUTF8 = "invalid_utf8"
        case duplicateKey = "duplicate_key"
        case tooDeep = "too_deep"
        case documentTooLarge = "document_too_large"
        case notAnObject = "not_an_object"
        case missingField = "missing_field"
        case wrongType = "wrong_type"
        case outOfRange = "out_of_range"
        case unknownEnumValue = "unknown_enum_value"
        case duplicateValue = "duplicate_value"
        case stringTooLong = "string_too_long"
        case invalidIdentifier = "invalid_identifier"
        case unsupportedSchemaVersion = "unsupported_schema_version"
        case eventTimeInFuture = "event_time_in_future"
        case keyMismatch = "key_mismatch"
    }

    public let reason: Reason
    /// The offending field (`courier_id`, `styles[2]`), nil for the document as a whole.
    public let field: String?
    public let message: String

    public init(_ reason: Reason, field: String? = nil, _ message: String) {
        self.reason = reason
        self.field = field
        self.message = message
    }

    public var description: String {
        field.map { "\(reason.rawValue) at \($0): \(message)" } ?? "\(reason.rawValue): \(message)"
    }
}
