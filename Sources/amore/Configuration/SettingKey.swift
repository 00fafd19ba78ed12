/// One setting of Amore's command line: its key in a configuration file, its environment
/// variable and its flag. The one table of them is `SettingKey.all`; a configuration file
/// may hold only these keys (and librdkafka properties under `kafka.properties`).
struct SettingKey: Hashable, Sendable, CustomStringConvertible {
    /// Dotted key in a configuration file (`topics.orders` is `{"topics": {"orders": ...}}`).
    let name: String
    /// The environment variable that sets it.
    let variable: String
    /// The flag that sets it, with its dashes (none for the secrets directory: a secret's
    /// place is the environment or a file, never a command line).
    let flag: String?
    /// What it is, for `amore config`.
    let help: String

    var description: String { name }

    static let brokers = SettingKey(name: "kafka.brokers", variable: "AMORE_BROKERS", flag: "--brokers",
                                    help: "bootstrap servers; unset starts a local broker")
    /// A directory of files, each one librdkafka secret (`sasl_password` holds `sasl.password`):
    /// how a Kubernetes Secret mounted as a volume reaches the Kafka client.
    static let kafkaSecretsDirectory = SettingKey(name: "kafka.secrets_dir", variable: "AMORE_KAFKA_SECRETS_DIR", flag: nil,
                                                  help: "directory of secret librdkafka properties, one file each")
    static let restaurantsTopic = topic("restaurants", "AMORE_RESTAURANTS_TOPIC", "--restaurants-topic", "restaurant profiles")
    static let ordersTopic = topic("orders", "AMORE_ORDERS_TOPIC", "--orders-topic", "order events")
    static let couriersTopic = topic("couriers", "AMORE_COURIERS_TOPIC", "--couriers-topic", "courier pings")
    static let rankingsTopic = topic("rankings", "AMORE_RANKINGS_TOPIC", "--rankings-topic", "zone rankings (output)")
    static let deadLettersTopic = topic("dead_letters", "AMORE_DEADLETTER_TOPIC", "--dead-letter-topic", "dead letters (output)")
    static let checkpointsTopic = topic("checkpoints", "AMORE_CHECKPOINTS_TOPIC", "--checkpoints-topic", "the engine's checkpoints")
    static let partitions = SettingKey(name: "topics.partitions", variable: "AMORE_PARTITIONS", flag: "--partitions",
                                       help: "partitions of topics created when missing")
    static let group = SettingKey(name: "engine.group", variable: "AMORE_GROUP", flag: "--group",
                                  help: "consumer group shared by the engine's instances")
    static let engineHTTP = SettingKey(name: "engine.http", variable: "AMORE_HTTP", flag: "--http",
                                       help: "the engine's HTTP endpoint (probes, metrics, queries)")
    static let idleRefresh = SettingKey(name: "engine.idle_refresh_ms", variable: "AMORE_IDLE_REFRESH_MS", flag: "--idle-refresh-ms",
                                        help: "quiet time before a partition's rankings catch up")
    static let mergeWait = SettingKey(name: "engine.merge_wait_ms", variable: "AMORE_MERGE_WAIT_MS", flag: "--merge-wait-ms",
                                      help: "how long a partition read to its end holds its pair's other partition back")
    static let checkpointInterval = SettingKey(name: "engine.checkpoint_interval_ms", variable: "AMORE_CHECKPOINT_INTERVAL_MS",
                                               flag: "--checkpoint-interval-ms", help: "wall time between checkpoints")
    static let checkpoints = SettingKey(name: "engine.checkpoints", variable: "AMORE_CHECKPOINTS", flag: "--no-checkpoints",
                                        help: "write and restore checkpoints (on/off)")
    static let zonePrecision = SettingKey(name: "zones.precision", variable: "AMORE_ZONE_PRECISION", flag: "--zone-precision",
                                          help: "geohash precision of zones (engine and serve must agree)")
    static let serveHTTP = SettingKey(name: "serve.http", variable: "AMORE_HTTP", flag: "--http",
                                      help: "amore serve's query endpoint (for the API tier)")
    static let serveOpsHTTP = SettingKey(name: "serve.ops_http", variable: "AMORE_OPS_HTTP", flag: "--ops-http",
                                         help: "amore serve's operations endpoint (probes, metrics)")
    static let minVersionWait = SettingKey(name: "serve.min_version_wait_ms", variable: "AMORE_MIN_VERSION_WAIT_MS",
                                           flag: "--min-version-wait-ms", help: "how long a min_version request may wait")
    static let maxReadyLag = SettingKey(name: "serve.max_ready_lag", variable: "AMORE_MAX_READY_LAG", flag: "--max-ready-lag",
                                        help: "records behind beyond which amore serve is not ready")
    static let bootstrapTail = SettingKey(name: "serve.bootstrap_tail_s", variable: "AMORE_BOOTSTRAP_TAIL_S", flag: "--bootstrap-tail-s",
                                          help: "seconds of the rankings topic read at start")
    static let logLevel = SettingKey(name: "log.level", variable: "AMORE_LOG_LEVEL", flag: "--log-level",
                                     help: "trace, debug, info, notice, warning, error or critical")

    /// Every setting, in the order `amore config` prints them.
    static let all: [SettingKey] = [
        brokers, kafkaSecretsDirectory, restaurantsTopic, ordersTopic, couriersTopic, rankingsTopic, deadLettersTopic,
        checkpointsTopic, partitions, group, engineHTTP, idleRefresh, mergeWait, checkpointInterval, checkpoints, zonePrecision,
        serveHTTP, serveOpsHTTP, minVersionWait, maxReadyLag, bootstrapTail, logLevel,
    ]

    /// Librdkafka properties under this key of a file (`{"kafka": {"properties": {"acks": "all"}}}`).
    static let kafkaPropertiesPrefix = "kafka.properties"
    /// The variable of librdkafka properties: `key=value` separated by commas or new lines;
    /// `\,` is a comma inside a value and `\\` a backslash.
    static let kafkaPropertiesVariable = "AMORE_KAFKA"
    /// The variable naming the configuration file (`--config` wins).
    static let configFileVariable = "AMORE_CONFIG"

    /// Librdkafka properties that are secrets: never printed, never logged. These are also
    /// the names read from the secrets directory (dots become underscores in file names).
    static let secretKafkaProperties: Set<String> = [
        "sasl.password", "sasl.oauthbearer.client.secret", "sasl.oauthbearer.config", "ssl.key.password",
        "ssl.key.pem", "ssl.keystore.password", "ssl_key",
    ]

    private static func topic(_ name: String, _ variable: String, _ flag: String, _ what: String) -> SettingKey {
        SettingKey(name: "topics.\(name)", variable: variable, flag: flag, help: "topic of \(what)")
    }
}
