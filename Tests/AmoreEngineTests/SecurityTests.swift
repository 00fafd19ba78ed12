import AmoreLocalBroker
import AmoreTestSupport
import Foundation
import Testing

/// Amore against a broker reached only over TLS (Tansu behind stunnel, a CA made by the
/// test): every command that talks to Kafka connects with `security.protocol=ssl` and the
/// CA, and a wrong CA or a host name the certificate does not carry fails at start-up with
/// a message that says so.
@Suite(.serialized) struct SecurityTests {
    @Test func clusterConnectsOverTLSAndNamesWhyAWrongCAOrHostNameFails() throws {
        let tls = try TLSBroker()
        let connected = try runAmore(["cluster", "--brokers", tls.bootstrapServers] + tls.flags(), environment: [:], timeout_s: 60)
        #expect(connected.status == 0, "\(connected.errors.suffix(2_000))")
        // The broker advertises the TLS endpoint, so the listed broker is it, by name.
        #expect(connected.output.contains("localhost:\(tls.tlsPort)"), "\(connected.output)")

        let wrongCA = try runAmore(["cluster", "--brokers", tls.bootstrapServers] + tls.flags(ca: tls.otherCAPath),
                                   environment: [:], timeout_s: 60)
        #expect(wrongCA.status != 0)
        #expect(wrongCA.errors.contains("the broker's certificate is not signed by a CA in ssl.ca.location"),
                "\(wrongCA.errors.suffix(2_000))")

        let wrongName = try runAmore(["cluster", "--brokers", tls.bootstrapByAddress] + tls.flags(), environment: [:], timeout_s: 60)
        #expect(wrongName.status != 0)
        #expect(wrongName.errors.contains("does not name the host it was reached at (hostname verification failed for \(tls.bootstrapByAddress))"),
                "\(wrongName.errors.suffix(2_000))")
    }

    /// The whole path over TLS: `amore simulate` writes a small city, `amore run` ranks it,
    /// `amore serve` follows the rankings and answers, and a plain reader over TLS sees
    /// rankings for both markets. The TLS settings come from the environment for the engine
    /// (as a deployment gives them) and from flags for the others.
    @Test func simulateRunAndServeWorkOverTLS() throws {
        let tls = try TLSBroker()
        let topics = TestTopics("tls")
        let simulate = try runAmore(["simulate", "--speed", "max", "--brokers", tls.bootstrapServers] + tls.flags()
                                    + topics.topicArguments + SimulateReplayTests.city, environment: [:])
        #expect(simulate.status == 0, "\(simulate.errors.suffix(2_000))")

        let engine = try EngineProcess("run", servers: tls.bootstrapServers, topics: topics, extra: tls.flags())
        let published = eventually(timeout_s: 60) {
            engine.sum(engine.metrics(), "amore_publications_total") > 0 && engine.get("/readyz").status == 200
        }
        #expect(published, "\(engine.logTail())")

        let serve = try ServeProcess(servers: tls.bootstrapServers, topic: topics.rankings, extra: tls.flags())
        #expect(serve.waitUntilReady(timeout_s: 60), "\(serve.logTail())")
        let markets = serve.get("/v1/markets")
        #expect(markets.status == 200, "\(markets.body)")

        // Both markets' rankings, read back over TLS (the engine publishes them as it goes).
        var marketsRanked = Set<String>()
        #expect(eventually(timeout_s: 60) {
            let rankings = (try? readAll(topics.rankings, servers: tls.bootstrapServers, properties: tls.properties())) ?? []
            marketsRanked = Set(rankings.compactMap { $0.json["market_id"] as? String })
            return marketsRanked.count == 2
        }, "\(marketsRanked) \(engine.logTail())")
        // amore serve holds the recent tail of what the engine published, over TLS too.
        let overview = (try? JSONSerialization.jsonObject(with: Data(markets.body.utf8))) as? [String: Any]
        let served = Set(((overview?["markets"] as? [[String: Any]]) ?? []).compactMap { $0["market_id"] as? String })
        #expect(!served.isEmpty && served.isSubset(of: marketsRanked), "served \(served), published \(marketsRanked)")
        _ = engine.terminate()
    }

    /// What the local broker can do with SASL. Tansu 0.6 with `--authentication` refuses
    /// every unauthenticated request and offers SCRAM only (PLAIN: no shared mechanism);
    /// its users cannot be made here (docs/testing.md, "SASL"). So what is tested: a client
    /// without credentials, or with SCRAM credentials the broker does not know (a wrong
    /// password is the same refusal to a SCRAM client), stops at start-up with the broker's
    /// reason, and the password appears nowhere.
    @Test func anAuthenticatingBrokerRefusesUnknownCredentialsAndAmoreSaysWhy() throws {
        let broker = try LocalBroker.start(authentication: true)
        defer { broker.stop() }
        let sentinel = "S3NT1NEL-\(UUID().uuidString.prefix(8))"
        let sasl = ["--kafka", "security.protocol=sasl_plaintext", "--kafka", "sasl.mechanism=SCRAM-SHA-512",
                    "--kafka", "sasl.username=amore-engine"]
        let refused = try runAmore(["cluster", "--brokers", broker.bootstrapServers] + sasl,
                                   environment: ["AMORE_KAFKA": "sasl.password=\(sentinel)"], timeout_s: 60)
        #expect(refused.status != 0)
        #expect(refused.errors.contains("SASL SCRAM authentication failed"), "\(refused.errors.suffix(2_000))")
        #expect(!(refused.output + refused.errors).contains(sentinel))

        let anonymous = try runAmore(["cluster", "--brokers", broker.bootstrapServers], environment: [:], timeout_s: 60)
        #expect(anonymous.status != 0)
        #expect(anonymous.errors.contains("cannot reach Kafka at \(broker.bootstrapServers)"), "\(anonymous.errors.suffix(2_000))")

        let engine = try EngineProcess("run", servers: broker.bootstrapServers, topics: TestTopics("sasl"), extra: sasl,
                                       awaitHTTP: false, environment: ["AMORE_KAFKA": "sasl.password=\(sentinel)"])
        let status = engine.waitForExit(timeout_s: 90)
        #expect(status != nil && status != 0, "the engine should stop: \(engine.logTail())")
        #expect(engine.logTail(60).contains("SASL SCRAM authentication failed"), "\(engine.logTail())")
        #expect(!engine.logTail(100_000).contains(sentinel))
    }

    @Test func theEngineRefusesToStartWithACertificateItDoesNotTrust() throws {
        let tls = try TLSBroker()
        let topics = TestTopics("tls-wrong-ca")
        let engine = try EngineProcess("run", servers: tls.bootstrapServers, topics: topics,
                                       extra: tls.flags(ca: tls.otherCAPath), awaitHTTP: false)
        let status = engine.waitForExit(timeout_s: 90)
        #expect(status != nil && status != 0, "the engine should stop: \(engine.logTail())")
        #expect(engine.logTail(60).contains("the broker's certificate is not signed by a CA in ssl.ca.location"), "\(engine.logTail())")
    }
}

/// A secret given to Amore in each way it can be given (the secrets directory, the
/// environment, a flag) never shows in what any command writes: logs at debug level,
/// errors, `--help`, `amore config`, and the engine's and `amore serve`'s metrics and
/// readiness pages.
@Suite struct SecretRedactionTests {
    @Test func aSentinelSecretAppearsNowhereAnyCommandWrites() throws {
        let servers = try TestBroker.bootstrapServers()
        let sentinel = "S3NT1NEL-\(UUID().uuidString.prefix(8))"
        let secrets = FileManager.default.temporaryDirectory.appendingPathComponent("amore-secrets-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: secrets) }
        try "\(sentinel)-file".write(to: secrets.appendingPathComponent("sasl_password"), atomically: true, encoding: .utf8)
        // Secret properties that a plain-text connection carries but does not use (librdkafka
        // warns about them): the commands work against the test broker and hold the secrets.
        let environment = ["AMORE_KAFKA": "sasl.username=amore,ssl.key.password=\(sentinel)-env",
                           "AMORE_KAFKA_SECRETS_DIR": secrets.path, "AMORE_LOG_LEVEL": "debug"]
        let flag = ["--kafka", "sasl.oauthbearer.client.secret=\(sentinel)-flag"]
        var written: [(String, String)] = []

        let topics = TestTopics("secrets")
        let city = SimulateReplayTests.city
        let simulate = try runAmore(["simulate", "--speed", "max", "--brokers", servers] + flag + topics.topicArguments + city,
                                    environment: environment)
        #expect(simulate.status == 0, "\(simulate.errors.suffix(1_000))")
        written.append(("simulate", simulate.output + simulate.errors))

        let engine = try EngineProcess("run", servers: servers, topics: topics, extra: flag, environment: environment)
        #expect(eventually(timeout_s: 60) { engine.sum(engine.metrics(), "amore_publications_total") > 0 }, "\(engine.logTail())")
        written.append(("run /metrics", engine.get("/metrics").body))
        written.append(("run /readyz", engine.get("/readyz").body))
        let serve = try ServeProcess(servers: servers, topic: topics.rankings, extra: flag, environment: environment)
        #expect(serve.waitUntilReady(timeout_s: 60), "\(serve.logTail())")
        written.append(("serve /metrics", serve.get("/metrics").body))
        written.append(("serve /readyz", serve.get("/readyz").body))
        let watch = try runAmore(["watch", "--brokers", servers] + flag + topics.topicArguments, environment: environment, timeout_s: 5)
        written.append(("watch", watch.output + watch.errors))
        let archive = FileManager.default.temporaryDirectory.appendingPathComponent("amore-secrets-\(UUID().uuidString.prefix(8)).amorebak")
        defer { try? FileManager.default.removeItem(at: archive) }
        _ = engine.terminate()
        written.append(("run", engine.logTail(100_000) + ((try? String(contentsOf: engine.output, encoding: .utf8)) ?? "")))
        written.append(("serve", serve.logTail(100_000)))
        let backup = try runAmore(["backup", "--out", archive.path, "--brokers", servers, "--group", topics.group] + flag
                                  + topics.topicArguments, environment: environment)
        #expect(backup.status == 0, "\(backup.errors.suffix(1_000))")
        written.append(("backup", backup.output + backup.errors))
        let restore = try runAmore(["restore", archive.path, "--brokers", servers, "--group", "\(topics.group)-restored"] + flag
                                   + TestTopics("secrets-restored").topicArguments, environment: environment)
        written.append(("restore", restore.output + restore.errors))
        for arguments in [["cluster", "--brokers", servers], ["cluster", "--brokers", "127.0.0.1:1"], ["config", "run"],
                          ["config", "serve"], ["version"]] {
            let result = try runAmore(arguments + (arguments.first == "cluster" ? flag : []), environment: environment, timeout_s: 60)
            written.append((arguments.joined(separator: " "), result.output + result.errors))
        }
        for command in ["run", "serve", "simulate", "replay", "watch", "demo", "cluster", "backup", "restore", "config", "broker"] {
            let help = try runAmore([command, "--help"], environment: environment)
            written.append(("\(command) --help", help.output + help.errors))
        }
        // The commands really ran with the secrets: amore config shows each, redacted.
        let config = written.first { $0.0 == "config run" }?.1 ?? ""
        #expect(config.contains("kafka.properties.sasl.password"), "\(config)")
        #expect(config.contains("kafka.properties.ssl.key.password"), "\(config)")
        for (what, text) in written {
            #expect(!text.contains("S3NT1NEL"), "\(what) wrote a secret: \(text.components(separatedBy: "\n").filter { $0.contains("S3NT1NEL") }.prefix(3))")
        }
        #expect(written.count >= 25)
    }
}
