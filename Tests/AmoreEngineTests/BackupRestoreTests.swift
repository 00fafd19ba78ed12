import AmoreCore
import AmoreKafka
import AmoreTestSupport
import Foundation
import Testing

/// The backup drill: production's state copied into another cluster (a broker of its
/// own), where an engine continues from it.
@Suite(.serialized) struct BackupRestoreTests {
    /// `amore broker` as a process: the other cluster.
    final class BrokerProcess {
        let process = Process()
        let output: URL
        private(set) var servers = ""

        init() throws {
            output = FileManager.default.temporaryDirectory.appendingPathComponent("amore-broker-\(UUID().uuidString.prefix(8)).out")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            process.executableURL = EngineProcess.binary
            process.arguments = ["broker"]
            process.standardOutput = try FileHandle(forWritingTo: output)
            process.standardError = FileHandle.nullDevice
            try process.run()
            _ = eventually(timeout_s: 30) {
                let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
                guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("AMORE_BOOTSTRAP_SERVERS=") }) else {
                    return false
                }
                servers = String(line.dropFirst("AMORE_BOOTSTRAP_SERVERS=".count))
                return true
            }
            guard !servers.isEmpty else { throw EngineProcess.Failure(description: "the second broker did not start") }
        }

        deinit {
            process.terminate()
            process.waitUntilExit()
            try? FileManager.default.removeItem(at: output)
        }
    }

    @Test func aBackupLoadedIntoAnotherClusterServesTheSameRankingsThere() throws {
        let servers = try TestBroker.bootstrapServers()
        let topics = TestTopics("backup")
        try topics.createInputs(servers: servers, partitions: 4)
        let records = try EngineRecoveryTests.writeSimulatedMarkets(InputWriter(servers: servers, topics: topics), duration_ms: 120_000)
        let inputs = [topics.orders, topics.couriers]
        let source = try EngineProcess(servers: servers, topics: topics)
        let ends = try endOffsets(topics: inputs, servers: servers)
        #expect(eventually(timeout_s: 120) {
            (try? committedOffsets(group: topics.group, topics: inputs, servers: servers)) == ends
        }, "\(source.logTail())")
        // SIGTERM: every pair is checkpointed exactly where it was committed.
        #expect(source.terminate() == 0, "\(source.logTail())")
        let expected = latestRankings(try readAll(topics.rankings, servers: servers))
        try #require(expected.count > 50 && records > 0)

        let archive = FileManager.default.temporaryDirectory.appendingPathComponent("amore-backup-\(UUID().uuidString.prefix(8)).bin")
        defer { try? FileManager.default.removeItem(at: archive) }
        let backup = try runAmore(["backup", "--out", archive.path, "--brokers", servers, "--group", topics.group] + topics.topicArguments)
        #expect(backup.status == 0, "\(backup.errors)")
        #expect(backup.output.contains("80 profiles, 4 checkpoints"), "\(backup.output)")

        // A corrupted archive is refused with the reason, before anything is written.
        var damaged = try Data(contentsOf: archive)
        damaged[damaged.count / 2] ^= 0xFF
        let damagedURL = archive.appendingPathExtension("damaged")
        try damaged.write(to: damagedURL)
        defer { try? FileManager.default.removeItem(at: damagedURL) }
        let refused = try runAmore(["restore", damagedURL.path, "--brokers", servers])
        #expect(refused.status != 0 && refused.errors.contains("checksum mismatch"), "\(refused.errors)")

        let staging = try BrokerProcess()
        let target = TestTopics("staging")
        let restore = try runAmore(["restore", archive.path, "--brokers", staging.servers, "--group", target.group]
            + target.topicArguments)
        #expect(restore.status == 0, "\(restore.errors)")
        #expect(restore.output.contains("profiles: 80 written"), "\(restore.output)")

        // The staging engine restores both markets from the checkpoints (its input topics
        // are empty) and answers with the source's last rankings, versions included.
        let engine = try EngineProcess(servers: staging.servers, topics: target)
        for (zone, ranking) in expected.sorted(by: { $0.key < $1.key }).prefix(25) {
            var served: Int64?
            #expect(eventually(timeout_s: 30) {
                let answer = engine.get("/v1/zones/\(zone)/rankings")
                served = answer.status == 200 ? versionField(Array(answer.body.utf8)) : nil
                return served == ranking.version
            }, "zone \(zone): staging serves version \(served ?? -1), production published \(ranking.version)")
        }
        // Every pair from its checkpoint (the two without markets too), none replayed.
        var log = ""
        let loadedAll = eventually(timeout_s: 20) {
            log = engine.logTail(10_000)
            return log.components(separatedBy: "restore: checkpoint loaded").count - 1 == 4
        }
        let restoreLines = log.split(separator: "\n").filter { $0.contains("restore") || $0.contains("assigned") }
        #expect(loadedAll, "\(restoreLines.joined(separator: "\n"))")
        #expect(!log.contains("no usable checkpoint") && !log.contains("passed over"), "\(restoreLines.joined(separator: "\n"))")
        #expect(engine.terminate() == 0)
    }
}
