import Logging

/// A start-up check of a client configuration: one metadata request, so that a command
/// that cannot reach its cluster stops at once with the reason instead of retrying in the
/// background. librdkafka reports an untrusted certificate and a certificate that does not
/// name the host alike ("certificate verify failed"); a second request without hostname
/// verification tells them apart, and the error says which.
public enum ConnectionCheck {
    public static func verify(_ configuration: KafkaConfiguration, timeout_ms: Int32 = 10_000,
                              logger: Logger = Logger(label: "amore.kafka.check")) throws {
        do {
            _ = try Admin(configuration: configuration, logger: logger).describeCluster(timeout_ms: timeout_ms)
        } catch let error as KafkaError {
            let servers = configuration["bootstrap.servers"] ?? "?"
            guard error.message.contains("certificate verify failed"),
                  (configuration["ssl.endpoint.identification.algorithm"] ?? "https") != "none" else {
                throw KafkaError(code: error.code, message: "cannot reach Kafka at \(servers): \(error.message)", context: "connection check")
            }
            var lenient = configuration
            lenient["ssl.endpoint.identification.algorithm"] = "none"
            var quiet = logger
            quiet.logLevel = .critical
            let trustedButMisnamed = (try? Admin(configuration: lenient, logger: quiet).describeCluster(timeout_ms: timeout_ms)) != nil
            let cause = trustedButMisnamed
                ? "the broker's certificate is signed by a trusted CA but does not name the host it was reached at "
                    + "(hostname verification failed for \(servers)): connect by a name the certificate carries"
                : "the broker's certificate is not signed by a CA in ssl.ca.location (\(configuration["ssl.ca.location"] ?? "the system's CAs"))"
            throw KafkaError(code: error.code, message: "TLS to \(servers) failed: \(cause); librdkafka: \(error.message)",
                             context: "connection check")
        }
    }
}
