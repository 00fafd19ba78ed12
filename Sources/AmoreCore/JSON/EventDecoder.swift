/// Where a record came from, for the checks a document cannot make about itself.
public struct RecordContext {
    /// The Kafka key: must equal the payload's market (orders, couriers) or restaurant
    /// (profiles). nil is a record without a key.
    public var key: UnsafeRawBufferPointer?
    /// The record's CreateTime; event times later than this plus `maxFutureSkew_ms` are
    /// refused (deterministic on replay, unlike the wall clock). ≤ 0: not checked.
    public var timestamp_ms: Int64
    public var maxFutureSkew_ms: Int64

    public init(key: UnsafeRawBufferPointer?, timestamp_ms: Int64, maxFutureSkew_ms: Int64 = 300_000) {
        self.key = key
        self.timestamp_ms = timestamp_ms
        self.maxFutureSkew_ms = maxFutureSkew_ms
    }
}

/// Decoders for the input contracts in `schemas/`, straight from a record's bytes.
///
/// Strict (full JSON grammar, UTF-8, no duplicate fields, nesting ≤ 32, ≤ 64 KiB),
/// field-order independent, unknown fields ignored (that is how producers add fields
/// without breaking the engine). No Foundation and no heap allocation on success,
/// except a profile's name. A rejection names the field and a stable reason code.
public enum EventDecoder {
    public static let maxDocumentBytes = 64 * 1024
    /// Event times before 2001-09-09 or after 2100-01-01 are not plausible.
    public static let eventTimeRange_ms: ClosedRange<Int64> = 1_000_000_000_000...4_102_444_800_000

    // MARK: courier ping

    static let courierFields: [StaticString] = ["schema_version", "courier_id", "market_id", "lat", "lon", "status",
                                                "event_time_ms", "speed_mps", "heading_deg"]

    static let courierRequired: UInt32 = 0b111_1111  // schema_version ... event_time_ms

    public static func decodeCourierPing(_ bytes: UnsafeRawBufferPointer, context: RecordContext) throws(EventRejection) -> CourierPing {
        // Decoded straight into the event; `seen` says which fields were really there.
        var ping = CourierPing(courierID: .placeholder, marketID: .placeholder, lat_deg: 0, lon_deg: 0, status: .offline, eventTime_ms: 0)
        let seen = try decodeDocument(bytes, fields: courierFields) { field, reader in
            switch field {
            case 0: try reader.readSchemaVersion()
            case 1: ping.courierID = try reader.readIdentifier()
            case 2: ping.marketID = try reader.readIdentifier()
            case 3: ping.lat_deg = try reader.readDouble(in: -90...90)
            case 4: ping.lon_deg = try reader.readDouble(in: -180...180)
            case 5: ping.status = CourierStatus(rawValue: UInt8(try reader.readEnum(CourierStatus.names)))!
            case 6: ping.eventTime_ms = try reader.readInteger(in: eventTimeRange_ms)
            case 7: ping.speed_mps = try reader.readDouble(in: 0...100)
            default: ping.heading_deg = try reader.readDouble(in: 0...360, upperExclusive: true)
            }
        }
        try requireFields(seen, courierRequired, courierFields)
        try checkKey(context, equals: ping.marketID, field: "market_id")
        try checkNotInFuture(ping.eventTime_ms, context, field: "event_time_ms")
        return ping
    }

    // MARK: order event

    static let orderFields: [StaticString] = ["schema_version", "event_id", "restaurant_id", "market_id", "order_id",
                                              "type", "channel", "event_time_ms"]

    static let orderRequired: UInt32 = 0b1111_1111

    public static func decodeOrderEvent(_ bytes: UnsafeRawBufferPointer, context: RecordContext) throws(EventRejection) -> OrderEvent {
        var event = OrderEvent(eventID: .placeholder, restaurantID: .placeholder, marketID: .placeholder, orderID: .placeholder,
                               type: .placed, channel: .delivery, eventTime_ms: 0)
        let seen = try decodeDocument(bytes, fields: orderFields) { field, reader in
            switch field {
            case 0: try reader.readSchemaVersion()
            case 1: event.eventID = try reader.readIdentifier()
            case 2: event.restaurantID = try reader.readIdentifier()
            case 3: event.marketID = try reader.readIdentifier()
            case 4: event.orderID = try reader.readIdentifier()
            case 5: event.type = OrderEventType(rawValue: UInt8(try reader.readEnum(OrderEventType.names)))!
            case 6: event.channel = OrderChannel(rawValue: UInt8(try reader.readEnum(OrderChannel.names)))!
            default: event.eventTime_ms = try reader.readInteger(in: eventTimeRange_ms)
            }
        }
        try requireFields(seen, orderRequired, orderFields)
        try checkKey(context, equals: event.marketID, field: "market_id")
        try checkNotInFuture(event.eventTime_ms, context, field: "event_time_ms")
        return event
    }

    // MARK: restaurant profile

    static let profileFields: [StaticString] = ["schema_version", "restaurant_id", "market_id", "name", "lat", "lon", "styles",
                                                "ovens", "default_prep_s", "delivery_radius_m", "is_open", "updated_at_ms"]
    public static let maxNameCharacters = 120

    static let profileRequired: UInt32 = 0b1111_1111_1111

    public static func decodeRestaurantProfile(_ bytes: UnsafeRawBufferPointer, context: RecordContext) throws(EventRejection) -> RestaurantProfile {
        var profile = RestaurantProfile(restaurantID: .placeholder, marketID: .placeholder, name: "", lat_deg: 0, lon_deg: 0, styles: [],
                                        ovens: 0, defaultPrep_s: 0, deliveryRadius_m: 0, isOpen: false, updatedAt_ms: 0)
        let seen = try decodeDocument(bytes, fields: profileFields) { field, reader in
            switch field {
            case 0: try reader.readSchemaVersion()
            case 1: profile.restaurantID = try reader.readIdentifier()
            case 2: profile.marketID = try reader.readIdentifier()
            case 3: profile.name = try reader.readText(maxCharacters: maxNameCharacters)
            case 4: profile.lat_deg = try reader.readDouble(in: -90...90)
            case 5: profile.lon_deg = try reader.readDouble(in: -180...180)
            case 6: profile.styles = try reader.readStyles()
            case 7: profile.ovens = Int(try reader.readInteger(in: 1...100))
            case 8: profile.defaultPrep_s = Int(try reader.readInteger(in: 1...14_400))
            case 9: profile.deliveryRadius_m = Int(try reader.readInteger(in: 1...50_000))
            case 10: profile.isOpen = try reader.readBoolean()
            default: profile.updatedAt_ms = try reader.readInteger(in: eventTimeRange_ms)
            }
        }
        try requireFields(seen, profileRequired, profileFields)
        try checkKey(context, equals: profile.restaurantID, field: "restaurant_id")
        try checkNotInFuture(profile.updatedAt_ms, context, field: "updated_at_ms")
        return profile
    }

    // MARK: shared

    /// Reads one top-level object, handing each known field's index to `member` (which
    /// must consume the value) and skipping unknown ones.
    @inline(__always)
    static func decodeDocument(_ bytes: UnsafeRawBufferPointer, fields: [StaticString],
                               _ member: (Int, inout JSONReader) throws -> Void) throws(EventRejection) -> UInt32 {
        guard bytes.count <= maxDocumentBytes else {
            throw EventRejection(.documentTooLarge, "document of \(bytes.count) bytes exceeds \(maxDocumentBytes)")
        }
        var reader = JSONReader(bytes)
        var current: Int?
        var seen: UInt32 = 0
        do {
            if try reader.peek() != UInt8(ascii: "{") {
                throw JSONReader.Failure(reason: .notAnObject, message: "the document is not a JSON object")
            }
            try reader.readObject(depth: 1, fields: fields) { field, reader in
                guard let field else {
                    current = nil
                    try reader.skipValue(depth: 2)
                    return
                }
                current = field
                guard seen & (1 << field) == 0 else {
                    throw JSONReader.Failure(reason: .duplicateKey, message: "field appears more than once")
                }
                seen |= 1 << field
                try member(field, &reader)
                current = nil
            }
            reader.skipWhitespace()
            guard reader.atEnd else { throw reader.unexpected("the end of the document") }
            return seen
        } catch let failure as JSONReader.Failure {
            throw EventRejection(failure.reason, field: current.map { "\(fields[$0])" }, failure.message)
        } catch {
            throw EventRejection(.malformedJSON, "\(error)")
        }
    }

    /// The first required field (in contract order) that `seen` lacks is missing.
    @inline(__always)
    static func requireFields(_ seen: UInt32, _ required: UInt32, _ fields: [StaticString]) throws(EventRejection) {
        let missing = required & ~seen
        guard missing != 0 else { return }
        throw EventRejection(.missingField, field: "\(fields[missing.trailingZeroBitCount])", "required field is missing")
    }

    static func checkKey(_ context: RecordContext, equals identifier: Identifier, field: String) throws(EventRejection) {
        let matches = identifier.withBytes { payload in
            guard let key = context.key, key.count == payload.count else { return false }
            return JSONReader.equalBytes(key.baseAddress!, payload.baseAddress!, count: key.count)
        }
        if !matches {
            let keyText = context.key.map { "'\(String(decoding: $0, as: UTF8.self))'" } ?? "no key"
            throw EventRejection(.keyMismatch, field: field, "Kafka key \(keyText) differs from \(field) '\(identifier)'")
        }
    }

    static func checkNotInFuture(_ time_ms: Int64, _ context: RecordContext, field: String) throws(EventRejection) {
        guard context.timestamp_ms > 0, time_ms > context.timestamp_ms + context.maxFutureSkew_ms else { return }
        throw EventRejection(.eventTimeInFuture, field: field,
                             "\(time_ms) is \(time_ms - context.timestamp_ms) ms after the record's timestamp (allowed: \(context.maxFutureSkew_ms))")
    }
}

extension JSONReader {
    /// A value of the wrong type: but a value that is not JSON at all (NaN, garbage) is
    /// malformed, not mistyped, so it is read first.
    mutating func mismatch(_ message: String) throws -> Never {
        try skipValue(depth: 2)
        throw Failure(reason: .wrongType, message: message)
    }

    mutating func readSchemaVersion() throws {
        let version = try readInteger(in: Int64.min...Int64.max)
        guard version == Int64(currentSchemaVersion) else {
            throw Failure(reason: .unsupportedSchemaVersion, message: "schema_version \(version) is not supported (this engine reads \(currentSchemaVersion))")
        }
    }

    mutating func readIdentifier() throws -> Identifier {
        guard try peek() == UInt8(ascii: "\"") else { try mismatch("expected a string") }
        return try withUnsafeTemporaryAllocation(byteCount: Identifier.maxLength, alignment: 1) { scratch in
            let text: UnsafeRawBufferPointer
            do {
                text = try readString(scratch: scratch, overflow: .fail)
            } catch let failure as Failure where failure.reason == .stringTooLong {
                throw Failure(reason: .stringTooLong, message: "identifier longer than \(Identifier.maxLength) characters")
            }
            guard text.count <= Identifier.maxLength else {
                throw Failure(reason: .stringTooLong, message: "identifier longer than \(Identifier.maxLength) characters")
            }
            guard let identifier = Identifier(bytes: text) else {
                throw Failure(reason: .invalidIdentifier, message: "identifiers are 1 to 64 characters of A-Z a-z 0-9 . _ : -")
            }
            return identifier
        }
    }

    mutating func readNumberValue() throws -> Number {
        let next = try peek()
        guard next == UInt8(ascii: "-") || (next >= UInt8(ascii: "0") && next <= UInt8(ascii: "9")) else {
            try mismatch("expected a number")
        }
        return try readNumber()
    }

    mutating func readInteger(in range: ClosedRange<Int64>) throws -> Int64 {
        // Fast path for the usual spelling (-?[1-9][0-9]{0,17} or 0, then no fraction or
        // exponent); everything else takes the general number reader.
        skipWhitespace()
        var position = index
        let negative = position < bytes.count && bytes[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        let firstDigit = position
        var magnitude: UInt64 = 0
        position = readDigits(from: position, into: &magnitude)
        let digits = position - firstDigit
        let followedByNumberPart = position < bytes.count
            && (bytes[position] == UInt8(ascii: ".") || bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E"))
        if digits >= 1, digits <= 18, !(digits > 1 && bytes[firstDigit] == UInt8(ascii: "0")), !followedByNumberPart {
            index = position
            let value = negative ? -Int64(magnitude) : Int64(magnitude)  // at most 18 digits: fits
            guard range.contains(value) else { throw Failure(reason: .outOfRange, message: "\(value) is outside \(range.lowerBound)...\(range.upperBound)") }
            return value
        }
        guard let value = try readNumberValue().exactInteger else { throw Failure(reason: .wrongType, message: "expected an integer") }
        guard range.contains(value) else { throw Failure(reason: .outOfRange, message: "\(value) is outside \(range.lowerBound)...\(range.upperBound)") }
        return value
    }

    mutating func readDouble(in range: ClosedRange<Double>, upperExclusive: Bool = false) throws -> Double {
        let value = try readPlainDecimal() ?? readNumberValue().double
        guard range.contains(value), !(upperExclusive && value == range.upperBound) else {
            throw Failure(reason: .outOfRange, message: "\(value) is outside \(range.lowerBound)...\(range.upperBound)\(upperExclusive ? " (exclusive)" : "")")
        }
        return value
    }

    mutating func readBoolean() throws -> Bool {
        guard let value = try readBool() else { try mismatch("expected true or false") }
        return value
    }

    /// The index of the string value in `names`.
    mutating func readEnum(_ names: [StaticString]) throws -> Int {
        guard try peek() == UInt8(ascii: "\"") else { try mismatch("expected a string") }
        return try withUnsafeTemporaryAllocation(byteCount: 32, alignment: 1) { scratch in
            let text = try readString(scratch: scratch, overflow: .empty)
            guard let index = JSONReader.index(of: text, in: names) else {
                throw Failure(reason: .unknownEnumValue,
                              message: "'\(String(decoding: text, as: UTF8.self).prefix(32))' is not one of \(names.map { "\($0)" }.joined(separator: ", "))")
            }
            return index
        }
    }

    mutating func readText(maxCharacters: Int) throws -> String {
        guard try peek() == UInt8(ascii: "\"") else { try mismatch("expected a string") }
        return try withUnsafeTemporaryAllocation(byteCount: maxCharacters * 4, alignment: 1) { scratch in
            let text: UnsafeRawBufferPointer
            do {
                text = try readString(scratch: scratch, overflow: .fail)
            } catch let failure as Failure where failure.reason == .stringTooLong {
                throw Failure(reason: .stringTooLong, message: "longer than \(maxCharacters) characters")
            }
            let characters = text.reduce(0) { $0 + ($1 & 0xC0 != 0x80 ? 1 : 0) }  // code points
            guard characters <= maxCharacters else { throw Failure(reason: .stringTooLong, message: "\(characters) characters, at most \(maxCharacters)") }
            guard characters >= 1 else { throw Failure(reason: .outOfRange, message: "must not be empty") }
            return String(decoding: text, as: UTF8.self)
        }
    }

    mutating func readStyles() throws -> PizzaStyles {
        guard try peek() == UInt8(ascii: "[") else { try mismatch("expected an array of styles") }
        var styles = PizzaStyles()
        try readArray(depth: 2) { _, reader in
            let bit = try reader.readEnum(PizzaStyles.names)
            let style = PizzaStyles(rawValue: 1 << bit)
            guard !styles.contains(style) else { throw Failure(reason: .duplicateValue, message: "'\(PizzaStyles.names[bit])' listed twice") }
            styles.insert(style)
        }
        guard !styles.isEmpty else { throw Failure(reason: .outOfRange, message: "at least one style") }
        return styles
    }
}
