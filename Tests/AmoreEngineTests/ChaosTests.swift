import AmoreCore
import AmoreKafka
import AmoreSimulation
import AmoreTestSupport
import Foundation
import Testing

/// Chaos: engine instances in one group while `amore simulate` feeds three markets live at
/// 10x speed, with 1 % of the order and courier records broken on purpose. Every
/// `interval` one instance is SIGKILLed, SIGTERMed or started (never more than three at
/// once, never none for long). At the end:
/// - the newest ranking of every zone (entries and version) equals that of one clean
///   instance run afterwards over the same input topics;
/// - every record the simulator marked malformed is in the dead-letter topic, with the
///   reason the simulator gave it;
/// - the group's lag is 0 (its committed offsets are the input topics' ends).
///
/// Run by `scripts/chaos` (the full 5 minutes, every 15 s, 2,000 couriers per market), or
/// shorter with `AMORE_CHAOS_SECONDS=60 AMORE_CHAOS_INTERVAL_S=5 AMORE_CHAOS_COURIERS=400`
/// (`AMORE_CHAOS_SEED` replays a run's actions). Not in CI yet: on the local broker some
/// engine instances stop receiving records of a partition after a handoff, which the
/// engine detects and reports but cannot always lift (docs/testing.md, "Chaos"), so the
/// lag does not return to 0 within the test's time.
///
/// Idle refreshes are switched off in both runs (`--idle-refresh-ms` of an hour): they
/// publish when a pair's input pauses for a moment, which depends on wall-clock timing,
/// not on the input, and so would make the versions of two correct runs differ.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["AMORE_CHAOS_SECONDS"] != nil,
                              "opt-in (scripts/chaos): blocked on the local broker's fetch stalls, see docs/testing.md"))
struct ChaosTests {
    static let environment = ProcessInfo.processInfo.environment
    static let duration_s = Double(environment["AMORE_CHAOS_SECONDS"] ?? "") ?? 60
    static let interval_s = Double(environment["AMORE_CHAOS_INTERVAL_S"] ?? "") ?? 5
    static let couriers = Int(environment["AMORE_CHAOS_COURIERS"] ?? "") ?? 400
    static let seed = UInt64(environment["AMORE_CHAOS_SEED"] ?? "") ?? UInt64.random(in: 1...999_999)
    static let speed = 10.0
    static let maxInstances = 3
    /// Idle refreshes off (above); checkpoints every second, so restores replay;
    /// librdkafka's own fetch wait (500 ms), because under this much load on two cores
    /// the local broker answers fetches empty when it cannot answer within the engine's
    /// 5 ms (EngineSettings.consumerProperties; 50 ms still stalled partitions here).
    /// `AMORE_CHAOS_ENGINE_FLAGS` (split on spaces) adds to them, e.g. `--kafka debug=fetch`.
    static let engineFlags = ["--idle-refresh-ms", "3600000", "--checkpoint-interval-ms", "1000", "--kafka", "fetch.wait.max.ms=500"]
        + (environment["AMORE_CHAOS_ENGINE_FLAGS"] ?? "").split(separator: " ").map(String.init)

    enum Action: String { case kill = "SIGKILL", terminate = "SIGTERM", start = "start" }

    /// An engine's last log lines without librdkafka's configuration warnings.
    static func essentialLog(_ engine: EngineProcess) -> String {
        engine.logTail(2_000).split(separator: "\n").filter { !$0.contains("CONFWARN") }.suffix(30).joined(separator: "\n")
    }

    @Test func instancesKilledStoppedAndStartedUnderLiveLoadEndLikeOneCleanInstance() throws {
        let servers = try TestBroker.bootstrapServers()
        let topics = TestTopics("chaos")
        try topics.createInputs(servers: servers, partitions: 4)
        let inputs = [topics.orders, topics.couriers]
        var random = SplitMix64(seed: Self.seed)  // AMORE_CHAOS_SEED replays a run's actions
        var journal = ["seed \(Self.seed): \(Self.duration_s) s, an action every \(Self.interval_s) s, \(Self.couriers) couriers per market"]

        // Event time ends near now, so that nothing is refused as from the future.
        let simulated_ms = Int64(Self.duration_s * Self.speed * 1_000)
        let simulator = try BackgroundAmore([
            "simulate", "--brokers", servers, "--markets", "3", "--couriers", "\(Self.couriers)", "--restaurants", "150",
            "--speed", "\(Int(Self.speed))", "--duration", "\(simulated_ms / 1_000)s",
            "--start-ms", "\(Int64(Date().timeIntervalSince1970 * 1_000) - simulated_ms)",
            "--malformed-fraction", "0.01", "--seed", "\(Self.seed)",
        ] + topics.topicArguments)

        let chaos = topics.withOutput("chaos")
        var running: [EngineProcess] = [try EngineProcess(servers: servers, topics: chaos, extra: Self.engineFlags)]
        var stopped: [EngineProcess] = []
        let start = Date()
        while Date().timeIntervalSince(start) < Self.duration_s {
            Thread.sleep(forTimeInterval: Self.interval_s)  // the pace of the chaos itself, not a wait for a condition
            let action: Action = running.isEmpty ? .start
                : running.count == Self.maxInstances ? (Bool.random(using: &random) ? .kill : .terminate)
                : [Action.kill, .terminate, .start].randomElement(using: &random)!
            switch action {
            case .start:
                running.append(try EngineProcess(servers: servers, topics: chaos, extra: Self.engineFlags))
            case .kill, .terminate:
                let victim = running.remove(at: Int.random(in: 0..<running.count, using: &random))
                if action == .kill { victim.killNow() } else { _ = victim.terminate() }
                stopped.append(victim)
            }
            journal.append(String(format: "%5.1f s: %@, %d running", Date().timeIntervalSince(start), action.rawValue, running.count))
        }
        #expect(simulator.waitForExit(timeout_s: 120) == 0, "simulate: \(simulator.errorsTail())")
        if running.isEmpty {
            running.append(try EngineProcess(servers: servers, topics: chaos, extra: Self.engineFlags))
            journal.append("end: start, 1 running")
        }
        print(journal.joined(separator: "\n"))

        // Lag returns to 0: the group commits every input record.
        let ends = try EngineRecoveryTests.endOffsets(topics: inputs, servers: servers)
        let settled = eventually(timeout_s: 180) {
            (try? EngineRecoveryTests.committedOffsets(group: chaos.group, topics: inputs, servers: servers)) == ends
        }
        #expect(settled, "committed \(String(describing: try? EngineRecoveryTests.committedOffsets(group: chaos.group, topics: inputs, servers: servers))) of \(ends)\n\(journal.joined(separator: "\n"))\n\(running.map(Self.essentialLog).joined(separator: "\n---\n"))")
        for engine in running { #expect(engine.terminate() == 0, "\(engine.logTail())") }

        // One clean instance over the same input.
        let clean = topics.withOutput("clean")
        let reference = try EngineProcess(servers: servers, topics: clean, extra: Self.engineFlags)
        #expect(eventually(timeout_s: 180) {
            (try? EngineRecoveryTests.committedOffsets(group: clean.group, topics: inputs, servers: servers)) == ends
        }, "\(reference.logTail())")
        #expect(reference.terminate() == 0, "\(reference.logTail())")
        let expected = latestRankings(try readAll(clean.rankings, servers: servers))
        try #require(expected.count > 100, "the clean run published \(expected.count) zones")
        let actual = latestRankings(try readAll(chaos.rankings, servers: servers))
        #expect(actual.count == expected.count, "zones: chaos \(actual.count), clean \(expected.count)")
        let differences = rankingDifferences(expected: expected, actual: actual)
        #expect(differences.isEmpty, "\(differences.count) zones differ: \(differences.prefix(5))\n\(journal.joined(separator: "\n"))")

        // Every record broken on purpose is a dead letter, with the simulator's reason.
        var broken: [String: String] = [:]
        for topic in inputs {
            for record in try readAll(topic, servers: servers) {
                if let reason = record.headers[SimulatedRecord.malformedHeader] {
                    broken["\(topic)[\(record.partition)]@\(record.offset)"] = reason
                }
            }
        }
        try #require(!broken.isEmpty, "the simulator broke no record")
        var lettered: [String: String] = [:]
        for record in try readAll(chaos.deadLetters, servers: servers) {
            let letter = record.json
            if let source = letter["source"] as? [String: Any], let topic = source["topic"] as? String,
               let partition = source["partition"] as? Int, let offset = source["offset"] as? Int,
               let reason = letter["reason_code"] as? String {
                lettered["\(topic)[\(partition)]@\(offset)"] = reason
            }
        }
        let missing = broken.filter { lettered[$0.key] == nil }
        #expect(missing.isEmpty, "\(missing.count) of \(broken.count) broken records are not dead letters: \(missing.prefix(5))")
        let wrongReason = broken.filter { source, reason in lettered[source].map { $0 != reason } ?? false }
        #expect(wrongReason.isEmpty, "dead letters with another reason: \(wrongReason.prefix(5).map { "\($0.key): \($0.value) vs \(lettered[$0.key]!)" })")
        print("chaos: \(expected.count) zones equal, \(broken.count) broken records all dead letters, \(stopped.count) instances stopped")
    }
}

/// An `amore` command running beside the test (the simulator), its output in a file.
final class BackgroundAmore {
    private let process = Process()
    private let errors: URL

    init(_ arguments: [String]) throws {
        errors = FileManager.default.temporaryDirectory.appendingPathComponent("amore-background-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.executableURL = EngineProcess.binary
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["AMORE_BROKERS"] = nil
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: errors)
    }

    /// The exit status, or nil when it is still running after `timeout_s`.
    func waitForExit(timeout_s: Double) -> Int32? {
        eventually(timeout_s: timeout_s) { !process.isRunning } ? process.terminationStatus : nil
    }

    func errorsTail(_ characters: Int = 2_000) -> String {
        String(((try? String(contentsOf: errors, encoding: .utf8)) ?? "").suffix(characters))
    }
}
