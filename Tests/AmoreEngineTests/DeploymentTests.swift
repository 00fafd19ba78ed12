import AmoreTestSupport
import Foundation
import Testing

/// What deploy/ and config/ promise that only a running `amore` can show: the alerts and the
/// dashboard name metrics that exist, and the layered configuration (file < environment <
/// flag) with secrets redacted and unknown keys refused. deploy/check covers the rest offline.
@Suite struct DeploymentTests {
    /// The repository's root (this file is Tests/AmoreEngineTests/DeploymentTests.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// Every `amore_*` name in the alert rules and the dashboard.
    static func queriedMetrics() throws -> Set<String> {
        var names = Set<String>()
        for path in ["deploy/helm/amore/templates/prometheusrule.yaml", "deploy/helm/amore/dashboards/amore.json"] {
            let text = try text(path)
            for match in text.matches(of: /amore_[a-z_]+/) { names.insert(String(match.output)) }
        }
        return names
    }

    /// The series names in a Prometheus text exposition.
    static func exported(_ exposition: String) -> Set<String> {
        Set(exposition.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            line.split(whereSeparator: { $0 == "{" || $0 == " " }).first.map(String.init)
        })
    }

    @Test func theAlertsAndTheDashboardNameOnlyMetricsThatTheEngineAndServeExport() throws {
        let queried = try Self.queriedMetrics()
        // The rule file and the dashboard must at least cover the alerts the issue names.
        for needed in ["amore_consumer_lag", "amore_dead_letters_total", "amore_event_to_publication_seconds_bucket",
                       "amore_ready_state", "amore_serve_ready_state", "amore_checkpoint_age_seconds"] {
            #expect(queried.contains(needed), "\(needed) is not queried")
        }

        let servers = try TestBroker.bootstrapServers()
        let topics = TestTopics("deploy-metrics")
        let demo = try EngineProcess("demo", servers: servers, topics: topics, extra: [
            "--stop-after", "90", "--restaurants", "40", "--couriers", "300", "--history", "2m",
            "--checkpoint-interval-ms", "500",
        ])
        // Per-partition gauges exist once a pair is owned and checkpointed.
        var engineMetrics = Set<String>()
        let engineComplete = eventually(timeout_s: 60) {
            engineMetrics = Self.exported(demo.get("/metrics").body)
            return engineMetrics.contains("amore_checkpoint_age_seconds") && engineMetrics.contains("amore_consumer_lag")
        }
        #expect(engineComplete, "engine metrics: \(engineMetrics.sorted()) \(demo.logTail())")

        let serve = try ServeProcess(servers: servers, topic: topics.rankings)
        #expect(serve.waitUntilReady(), "\(serve.logTail())")
        let serveMetrics = Self.exported(serve.get("/metrics").body)

        let missing = queried.subtracting(engineMetrics).subtracting(serveMetrics)
        #expect(missing.isEmpty, "queried but exported by neither the engine nor amore serve: \(missing.sorted())")
        _ = demo.terminate()
    }

    // MARK: Configuration

    /// Lines of `amore config`: key → (value, source).
    static func effective(_ output: String) -> [String: (value: String, source: String)] {
        var lines: [String: (String, String)] = [:]
        for line in output.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard parts.count >= 3, let open = line.lastIndex(of: "[") else { continue }
            lines[parts[0]] = (parts[1], String(line[line.index(after: open)..<line.index(before: line.endIndex)]))
        }
        return lines
    }

    static func temporaryFile(_ contents: String, name: String = "amore.json") throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("amore-config-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(name)
        try contents.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    @Test(arguments: ["dev", "stage", "prod"])
    func eachEnvironmentsExampleIsAccepted(environment: String) throws {
        let path = Self.root.appendingPathComponent("config/\(environment).json").path
        let file = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] ?? [:]
        let partitions = (file["topics"] as? [String: Any])?["partitions"] as? Int
        let brokers = (file["kafka"] as? [String: Any])?["brokers"] as? String
        for command in ["run", "serve"] {
            let result = try runAmore(["config", command, "--config", path], environment: [:])
            #expect(result.status == 0, "\(command): \(result.errors)")
            let lines = Self.effective(result.output)
            #expect(lines["kafka.brokers"]?.value == brokers)
            #expect(lines["kafka.brokers"]?.source == "file \(path)")
            #expect(lines["kafka.properties.security.protocol"]?.value == "SASL_SSL")
            // The pod's secrets directory does not exist here: shown, not refused (amore run refuses it).
            #expect(lines["kafka.secrets_dir"]?.value == "/var/run/secrets/amore/kafka")
            if command == "run" {
                #expect(lines["topics.partitions"]?.value == partitions.map(String.init))
                #expect(lines["engine.http"]?.value == "0.0.0.0:8080")
            } else {
                #expect(lines["serve.ops_http"]?.value == "0.0.0.0:9091")
            }
        }
    }

    /// Hand-worked: the file says group g-file, 12 partitions, zone precision 7 and
    /// checkpoints off; the environment says group g-env and 16 partitions; the flag says 20
    /// partitions. So: group g-env (environment), 20 partitions (flag), precision 7 (file),
    /// checkpoints off (file), idle refresh 100 (default).
    @Test func aFlagWinsOverTheEnvironmentWhichWinsOverTheFile() throws {
        let file = try Self.temporaryFile("""
            {"engine": {"group": "g-file", "checkpoints": false}, "topics": {"partitions": 12}, "zones": {"precision": 7}}
            """)
        let result = try runAmore(["config", "run", "--config", file.path, "--partitions", "20"],
                                  environment: ["AMORE_GROUP": "g-env", "AMORE_PARTITIONS": "16"])
        #expect(result.status == 0, "\(result.errors)")
        let lines = Self.effective(result.output)
        #expect(lines["engine.group"]?.value == "g-env")
        #expect(lines["engine.group"]?.source == "environment AMORE_GROUP")
        #expect(lines["topics.partitions"]?.value == "20")
        #expect(lines["topics.partitions"]?.source == "flag --partitions")
        #expect(lines["zones.precision"]?.value == "7")
        #expect(lines["zones.precision"]?.source == "file \(file.path)")
        #expect(lines["engine.checkpoints"]?.value == "off")
        #expect(lines["engine.idle_refresh_ms"]?.value == "100")
        #expect(lines["engine.idle_refresh_ms"]?.source == "default")

        // AMORE_CONFIG names the file when --config does not.
        let byVariable = try runAmore(["config", "run"], environment: ["AMORE_CONFIG": file.path])
        #expect(Self.effective(byVariable.output)["engine.group"]?.value == "g-file")
    }

    /// A sentinel password given in each place a secret may come from never appears in what
    /// `amore config` or a failing `amore cluster` print; each is shown as <redacted>.
    @Test func secretsNeverAppearInPrintedConfigurationOrErrors() throws {
        let sentinel = "S3NT1NEL-\(UUID().uuidString.prefix(8))"
        let file = try Self.temporaryFile("""
            {"kafka": {"properties": {"ssl.key.password": "\(sentinel)-file", "security.protocol": "SASL_PLAINTEXT"}}}
            """)
        let secrets = file.deletingLastPathComponent().appendingPathComponent("secrets")
        try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: true)
        try "\(sentinel)-dir\n".write(to: secrets.appendingPathComponent("sasl_password"), atomically: true, encoding: .utf8)
        let environment = ["AMORE_KAFKA": "sasl.oauthbearer.client.secret=\(sentinel)-env,sasl.username=u",
                           "AMORE_KAFKA_SECRETS_DIR": secrets.path]

        let config = try runAmore(["config", "run", "--config", file.path], environment: environment)
        #expect(config.status == 0, "\(config.errors)")
        let lines = Self.effective(config.output)
        #expect(lines["kafka.properties.sasl.password"]?.value == "<redacted>")
        #expect(lines["kafka.properties.sasl.password"]?.source == "secret file \(secrets.path)")
        #expect(lines["kafka.properties.ssl.key.password"]?.value == "<redacted>")
        #expect(lines["kafka.properties.sasl.oauthbearer.client.secret"]?.value == "<redacted>")
        #expect(lines["kafka.properties.sasl.username"]?.value == "u")

        // A connection that fails (nothing listens on port 1) logs and errors without the secrets.
        let cluster = try runAmore(["cluster", "--config", file.path, "--brokers", "127.0.0.1:1", "--log-level", "debug"],
                                   environment: environment, timeout_s: 60)
        #expect(cluster.status != 0)
        let help = try runAmore(["run", "--help"], environment: environment)
        for printed in [config.output, config.errors, cluster.output, cluster.errors, help.output, help.errors] {
            #expect(!printed.contains(sentinel), "a secret was printed: \(printed.prefix(2_000))")
        }
        // A malformed assignment is named by its key, never by its value.
        let malformed = try runAmore(["config", "run"], environment: ["AMORE_KAFKA": "acks=all,sasl.password\(sentinel)"])
        #expect(malformed.status != 0)
        #expect(malformed.errors.contains("AMORE_KAFKA (assignment 2): not key=value"), "\(malformed.errors)")
        #expect(!malformed.errors.contains(sentinel), "\(malformed.errors)")
    }

    @Test func anUnknownKeyOrAValueOfTheWrongKindIsRefusedByName() throws {
        let typo = try Self.temporaryFile(#"{"engine": {"grup": "g"}}"#)
        let refused = try runAmore(["config", "run", "--config", typo.path], environment: [:])
        #expect(refused.status != 0)
        #expect(refused.errors.contains("unknown key 'engine.grup'"), "\(refused.errors)")
        #expect(refused.errors.contains("engine.group"), "the message lists the known keys: \(refused.errors)")

        let words = try Self.temporaryFile(#"{"topics": {"partitions": "twelve"}}"#)
        let notNumber = try runAmore(["config", "run", "--config", words.path], environment: [:])
        #expect(notNumber.status != 0)
        #expect(notNumber.errors.contains("topics.partitions (file \(words.path)): 'twelve' is not a whole number"), "\(notNumber.errors)")

        let badVariable = try runAmore(["config", "run"], environment: ["AMORE_ZONE_PRECISION": "six"])
        #expect(badVariable.errors.contains("zones.precision (environment AMORE_ZONE_PRECISION)"), "\(badVariable.errors)")
        // The engine refuses the same way it is described (not only `amore config`).
        let run = try runAmore(["run", "--config", typo.path], environment: [:], timeout_s: 30)
        #expect(run.status != 0)
        #expect(run.errors.contains("unknown key 'engine.grup'"), "\(run.errors)")
        // So does a secrets directory that is not there (credentials that never arrived).
        let noSecrets = try runAmore(["run"], environment: ["AMORE_KAFKA_SECRETS_DIR": "/nonexistent/amore-secrets"], timeout_s: 30)
        #expect(noSecrets.status != 0)
        #expect(noSecrets.errors.contains("kafka secrets directory /nonexistent/amore-secrets"), "\(noSecrets.errors)")
    }

    /// `AMORE_KAFKA` carries a cipher list: `\,` is a comma inside a value, a new line
    /// separates assignments as a comma does.
    @Test func kafkaPropertiesFromTheEnvironmentCarryCommas() throws {
        let result = try runAmore(["config", "run"], environment: [
            "AMORE_KAFKA": "ssl.cipher.suites=ECDHE-RSA-AES128-GCM-SHA256\\,ECDHE-RSA-AES256-GCM-SHA384,linger.ms=5\nacks=all",
        ])
        #expect(result.status == 0, "\(result.errors)")
        let lines = Self.effective(result.output)
        #expect(lines["kafka.properties.ssl.cipher.suites"]?.value == "ECDHE-RSA-AES128-GCM-SHA256,ECDHE-RSA-AES256-GCM-SHA384")
        #expect(lines["kafka.properties.linger.ms"]?.value == "5")
        #expect(lines["kafka.properties.acks"]?.value == "all")
        #expect(lines["kafka.properties.acks"]?.source == "environment AMORE_KAFKA")
    }

    @Test func versionNamesTheReleaseTheChartNames() throws {
        let result = try runAmore(["version"], environment: [:])
        let chart = try Self.text("deploy/helm/amore/Chart.yaml")
        let appVersion = chart.firstMatch(of: /appVersion: "([^"]+)"/).map { String($0.output.1) }
        #expect(appVersion != nil)
        #expect(result.output.hasPrefix("amore \(appVersion ?? "?") (commit "), "\(result.output)")
    }
}
