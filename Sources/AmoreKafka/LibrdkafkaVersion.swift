/// The librdkafka actually loaded, and the check every client runs before starting.
public enum LibrdkafkaVersion {
    /// e.g. "2.8.0".
    public static var loaded: String { RDKafkaClient.loadedVersion }

    /// Throws when the loaded librdkafka is older than 2.8.0.
    public static func check() throws { try RDKafkaClient.checkLoadedVersion() }
}
