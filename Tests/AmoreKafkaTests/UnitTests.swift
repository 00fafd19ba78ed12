import AmoreKafka
import Testing

/// Checks that need no broker.
@Suite struct UnitTests {
    @Test func loadedLibrdkafkaIsNewEnough() throws {
        try LibrdkafkaVersion.check()
        let parts = LibrdkafkaVersion.loaded.split(separator: ".").compactMap { Int($0) }
        #expect(parts.count >= 2)
        #expect(parts[0] > 2 || (parts[0] == 2 && parts[1] >= 8), "loaded \(LibrdkafkaVersion.loaded)")
    }

    @Test func parsesCommandLineAssignments() throws {
        let configuration = try KafkaConfiguration.parse(assignments: ["security.protocol=SASL_SSL", "sasl.password=a=b", " acks =all"])
        #expect(configuration["security.protocol"] == "SASL_SSL")
        #expect(configuration["sasl.password"] == "a=b", "only the first '=' separates")
        #expect(configuration["acks"] == "all")
        #expect(throws: KafkaError.self) { try KafkaConfiguration.parse(assignments: ["no-equals-sign"]) }
        #expect(throws: KafkaError.self) { try KafkaConfiguration.parse(assignments: ["=value"]) }
    }

    @Test func misspeltPropertyIsRejectedWithLibrdkafkasMessage() {
        let error = #expect(throws: KafkaError.self) {
            _ = try Producer(configuration: KafkaConfiguration(["bootstrap.server": "127.0.0.1:9092"]))
        }
        #expect(error?.context == "configuration property 'bootstrap.server'")
        #expect(error?.message.contains("No such configuration property") == true, "\(String(describing: error))")
    }

    @Test func invalidValueIsRejectedWithLibrdkafkasMessage() {
        let error = #expect(throws: KafkaError.self) {
            _ = try Consumer(configuration: KafkaConfiguration(bootstrapServers: "127.0.0.1:9092", ["auto.offset.reset": "yesterday"]))
        }
        #expect(error?.context == "configuration property 'auto.offset.reset'")
        #expect(error?.message.contains("yesterday") == true, "\(String(describing: error))")
    }

    @Test func securitySettingsPassThroughToLibrdkafka() throws {
        // Accepted as given (librdkafka validates them); a client is created without a broker.
        _ = try Producer(configuration: KafkaConfiguration(bootstrapServers: "127.0.0.1:1", [
            "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256",
            "sasl.username": "amore", "sasl.password": "secret",
        ]))
        let error = #expect(throws: KafkaError.self) {
            _ = try Producer(configuration: KafkaConfiguration(bootstrapServers: "127.0.0.1:1", ["security.protocol": "CARRIER_PIGEON"]))
        }
        #expect(error?.context == "configuration property 'security.protocol'")
    }

    /// Vectors from Kafka's own Utils tests: our reference murmur2 must match Java's.
    @Test(arguments: [("21", Int32(-973_932_308)), ("foobar", -790_332_482), ("a-little-bit-long-string", -985_981_536),
                      ("a-little-bit-longer-string", -1_486_304_829), ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
                      ("abc", 479_470_107)])
    func javaMurmur2MatchesKafkaVectors(input: String, expected: Int32) {
        #expect(javaMurmur2(Array(input.utf8)) == expected)
    }
}
