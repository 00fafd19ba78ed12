// Compiled together with Sources/AmoreCore into one module (see build), so no import.

/// Feeds each input to every decoder. A crash, a sanitizer report, or an accepted event
/// that does not survive re-encoding (checked with a trap) is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecoders(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let document = UnsafeRawBufferPointer(start: data, count: size)
    let context = RecordContext(key: nil, timestamp_ms: 0)
    if let ping = try? EventDecoder.decodeCourierPing(document, context: context) {
        roundTrip(EventEncoder.encode(ping), ping) { try EventDecoder.decodeCourierPing($0, context: $1) }
    }
    if let event = try? EventDecoder.decodeOrderEvent(document, context: context) {
        roundTrip(EventEncoder.encode(event), event) { try EventDecoder.decodeOrderEvent($0, context: $1) }
    }
    if let profile = try? EventDecoder.decodeRestaurantProfile(document, context: context) {
        roundTrip(EventEncoder.encode(profile), profile) { try EventDecoder.decodeRestaurantProfile($0, context: $1) }
    }
    return 0
}

/// Accepted without a key here; re-decoding uses the decoded market/restaurant as key.
private func roundTrip<Event: Equatable>(_ encoded: [UInt8], _ original: Event,
                                         _ decode: (UnsafeRawBufferPointer, RecordContext) throws -> Event) {
    let key: Identifier = switch original {
    case let ping as CourierPing: ping.marketID
    case let event as OrderEvent: event.marketID
    case let profile as RestaurantProfile: profile.restaurantID
    default: fatalError("unknown event type")
    }
    let again = encoded.withUnsafeBytes { bytes in
        key.withBytes { key in try? decode(bytes, RecordContext(key: key, timestamp_ms: 0)) }
    }
    precondition(again == original, "re-encoded event differs: \(String(decoding: encoded, as: UTF8.self))")
}
