import AmoreCore
import Testing

/// Thousands of generated and mutated documents: equivalent spellings of an event decode
/// to that event; whatever else the decoder accepts re-encodes to an equivalent event;
/// nothing crashes. Seeded, so a failure reproduces.
@Suite struct DecoderPropertyTests {

    static let recordTimestamp_ms: Int64 = 1_764_000_000_000

    static func identifier(_ prefix: String, _ random: inout SplitMix64) -> Identifier {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-")
        let length = Int.random(in: 0...20, using: &random)
        return Identifier(validating: prefix + String((0..<length).map { _ in alphabet.randomElement(using: &random)! }))!
    }

    static func randomPing(_ random: inout SplitMix64) -> CourierPing {
        CourierPing(courierID: identifier("c", &random), marketID: identifier("m", &random),
                    lat_deg: Double.random(in: -90...90, using: &random), lon_deg: Double.random(in: -180...180, using: &random),
                    status: CourierStatus.allCases.randomElement(using: &random)!,
                    eventTime_ms: recordTimestamp_ms - Int64.random(in: 0...86_400_000, using: &random),
                    speed_mps: Bool.random(using: &random) ? Double.random(in: 0...40, using: &random) : nil,
                    heading_deg: Bool.random(using: &random) ? Double(Int.random(in: 0...359, using: &random)) : nil)
    }

    static func randomOrder(_ random: inout SplitMix64) -> OrderEvent {
        OrderEvent(eventID: identifier("e", &random), restaurantID: identifier("r", &random), marketID: identifier("m", &random),
                   orderID: identifier("o", &random), type: OrderEventType.allCases.randomElement(using: &random)!,
                   channel: OrderChannel.allCases.randomElement(using: &random)!,
                   eventTime_ms: recordTimestamp_ms - Int64.random(in: 0...86_400_000, using: &random))
    }

    /// The same members as `encoded`, spelled differently: shuffled, spaced, escaped,
    /// with unknown fields mixed in.
    static func respell(_ encoded: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        let text = String(decoding: encoded.dropFirst().dropLast(), as: UTF8.self)
        // Our encoder writes flat objects with no commas inside values except arrays.
        var members: [String] = []
        var depth = 0
        var current = ""
        var inString = false
        for character in text {
            if character == "\"" { inString.toggle() }
            if !inString && (character == "[" || character == "{") { depth += 1 }
            if !inString && (character == "]" || character == "}") { depth -= 1 }
            if character == "," && depth == 0 && !inString {
                members.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        members.append(current)
        members.append(#""unknown_\#(Int.random(in: 0...99, using: &random))": {"nested": [1, 2.5e-3, "x\n", null, true]}"#)
        members.shuffle(using: &random)
        let spaces = [" ", "\n", "\t", "\r\n", "", "  "]
        func space() -> String { spaces.randomElement(using: &random)! }
        func escapeSome(_ member: String) -> String {
            String(member.flatMap { character -> [Character] in
                guard character.isLetter, character.isASCII, Int.random(in: 0..<4, using: &random) == 0 else { return [character] }
                let hex = String(character.asciiValue!, radix: 16)
                return Array("\\u00" + (hex.count == 1 ? "0" + hex : hex))
            })
        }
        let body = members.map { member -> String in
            let colon = member.firstIndex(of: ":")!
            return space() + escapeSome(String(member[..<colon])) + space() + ":" + space() + String(member[member.index(after: colon)...]) + space()
        }.joined(separator: ",")
        return Array((space() + "{" + body + "}" + space()).utf8)
    }

    static func mutate(_ bytes: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bytes = bytes
        switch Int.random(in: 0..<4, using: &random) {
        case 0: bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &random)))
        case 1:
            for _ in 0...Int.random(in: 0...3, using: &random) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
        case 2:
            let interesting: [UInt8] = Array("{}[]\",:\\0-eE.ntf ".utf8) + [0x00, 0x80, 0xC3, 0xFF]
            bytes.insert(interesting.randomElement(using: &random)!, at: Int.random(in: 0...bytes.count, using: &random))
        default:
            if !bytes.isEmpty { bytes.remove(at: Int.random(in: 0..<bytes.count, using: &random)) }
        }
        return bytes
    }

    static func decode<Event>(_ bytes: [UInt8], key: Identifier,
                              _ decoder: (UnsafeRawBufferPointer, RecordContext) throws(EventRejection) -> Event) -> Event? {
        bytes.withUnsafeBytes { document in
            key.withBytes { key in try? decoder(document, RecordContext(key: key, timestamp_ms: recordTimestamp_ms)) }
        }
    }

    static func decodePing(_ bytes: [UInt8], key: Identifier) -> CourierPing? { decode(bytes, key: key, EventDecoder.decodeCourierPing) }

    /// 3,000 generated events: respelled, each decodes to itself; respelled and as encoded
    /// (fields in contract order, the decoder's fast path) mutated three times each,
    /// whatever still decodes re-encodes to an equal event. Returns how many mutants decoded.
    static func respellAndMutate<Event: Equatable>(seed: UInt64, generate: (inout SplitMix64) -> Event,
                                                   encode: (Event) -> [UInt8], key: (Event) -> Identifier,
                                                   decoder: (UnsafeRawBufferPointer, RecordContext) throws(EventRejection) -> Event) -> Int {
        var random = SplitMix64(seed: seed)
        var accepted = 0
        for _ in 0..<3_000 {
            let event = generate(&random)
            let respelled = respell(encode(event), &random)
            #expect(decode(respelled, key: key(event), decoder) == event, "\(String(decoding: respelled, as: UTF8.self))")
            let encoded = encode(event)
            for source in [respelled, respelled, respelled, encoded, encoded, encoded] {
                let mutated = mutate(source, &random)
                guard let decoded = decode(mutated, key: key(event), decoder) else { continue }
                accepted += 1
                #expect(decode(encode(decoded), key: key(decoded), decoder) == decoded)
            }
        }
        return accepted
    }

    @Test func courierPingsSurviveRespellingAndMutation() {
        let accepted = Self.respellAndMutate(seed: 0xC0FFEE, generate: Self.randomPing, encode: EventEncoder.encode,
                                             key: \.marketID, decoder: EventDecoder.decodeCourierPing)
        #expect(accepted > 0, "some mutations (e.g. in unknown fields) stay valid")
    }

    @Test func orderEventsSurviveRespellingAndMutation() {
        _ = Self.respellAndMutate(seed: 0xBADC0DE, generate: Self.randomOrder, encode: EventEncoder.encode,
                                  key: \.marketID, decoder: EventDecoder.decodeOrderEvent)
    }

    @Test func randomBytesNeverCrashTheDecoders() {
        var random = SplitMix64(seed: 42)
        for _ in 0..<20_000 {
            let bytes = (0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            bytes.withUnsafeBytes { document in
                let context = RecordContext(key: nil, timestamp_ms: 0)
                _ = try? EventDecoder.decodeCourierPing(document, context: context)
                _ = try? EventDecoder.decodeOrderEvent(document, context: context)
                _ = try? EventDecoder.decodeRestaurantProfile(document, context: context)
            }
        }
    }

    @Test func numbersAreReadExactly() throws {
        // Hand-checked: each spelling is the same value.
        let spellings: [(String, Double)] = [("30.2672", 30.2672), ("3.02672e1", 30.2672), ("302672E-4", 30.2672),
                                             ("-87.7431", -87.7431), ("0.1", 0.1), ("-0", 0), ("1e-7", 1e-7),
                                             ("12345678901234567890e-18", 12.34567890123456789)]
        for (text, value) in spellings {
            let document = Array(#"{"schema_version":1,"courier_id":"c","market_id":"m","lat":\#(text),"lon":0,"status":"offline","event_time_ms":1764000000000}"#.utf8)
            let ping = try #require(Self.decodePing(document, key: "m"), "\(text)")
            #expect(ping.lat_deg == value, "\(text) → \(ping.lat_deg)")
        }
    }
}
