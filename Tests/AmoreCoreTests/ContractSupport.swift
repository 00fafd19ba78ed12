import AmoreCore
import AmoreTestSupport
import Foundation

/// The contracts folder and the decoder for each schema, shared by the contract tests.
enum Contracts {
    static let schemasURL = SchemaChecker.schemasURL

    struct Example {
        let file: String
        let schema: String
        let key: String?
        let recordTimestamp_ms: Int64
        let expectValid: Bool
        let expectReason: String?
        let expectField: String?
        var bytes: [UInt8] { Array(try! Data(contentsOf: schemasURL.appendingPathComponent("examples/\(file)"))) }
    }

    static func examples() throws -> [Example] {
        let data = try Data(contentsOf: schemasURL.appendingPathComponent("examples/manifest.json"))
        let entries = try JSONSerialization.jsonObject(with: data) as! [[String: Any]]
        return entries.map { entry in
            let expect = entry["expect"] as! [String: Any]
            return Example(file: entry["file"] as! String, schema: entry["schema"] as! String, key: entry["key"] as? String,
                           recordTimestamp_ms: (entry["record_timestamp_ms"] as? NSNumber)?.int64Value ?? 0,
                           expectValid: expect["valid"] as? Bool ?? false,
                           expectReason: expect["reason"] as? String, expectField: expect["field"] as? String)
        }
    }

    enum Decoded: Equatable {
        case courier(CourierPing), order(OrderEvent), profile(RestaurantProfile)

        var reencoded: [UInt8] {
            switch self {
            case .courier(let ping): EventEncoder.encode(ping)
            case .order(let event): EventEncoder.encode(event)
            case .profile(let profile): EventEncoder.encode(profile)
            }
        }
    }

    /// Decodes `bytes` as `schema` with the Swift decoder.
    static func decode(_ schema: String, _ bytes: [UInt8], key: String?, recordTimestamp_ms: Int64) -> Result<Decoded, EventRejection> {
        bytes.withUnsafeBytes { document in
            withOptionalBytes(key.map { Array($0.utf8) }) { key in
                let context = RecordContext(key: key, timestamp_ms: recordTimestamp_ms)
                do throws(EventRejection) {
                    switch schema {
                    case "courier_ping": return .success(.courier(try EventDecoder.decodeCourierPing(document, context: context)))
                    case "order_event": return .success(.order(try EventDecoder.decodeOrderEvent(document, context: context)))
                    default: return .success(.profile(try EventDecoder.decodeRestaurantProfile(document, context: context)))
                    }
                } catch {
                    return .failure(error)
                }
            }
        }
    }

    static func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        guard let bytes else { return body(nil) }
        return bytes.withUnsafeBytes { body($0) }
    }

    /// Runs `schemas/check_examples.py` with `arguments`; returns (exit code, stdout lines).
    static func runChecker(_ arguments: [String]) throws -> (Int32, [String]) {
        try SchemaChecker.run(arguments)
    }
}
