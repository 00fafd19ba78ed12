import AmoreCore
import AmoreEngine
import AmoreLocalBroker
import ArgumentParser
import Foundation
import Logging

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write the restaurant profiles and the newest checkpoint of every partition pair to one archive.",
        discussion: "Reads the deployment named by the topic flags and --group (docs/checkpoints.md, \"Backup and restore\")."
    )

    @Option(help: "The archive to write.")
    var out: String
    @OptionGroup var deployment: DeploymentOptions
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let (layers, logger) = try await common.load()
        let (settings, localBroker) = try deployment.connect(layers, logger: logger)
        defer { localBroker?.stop() }
        let archive = try Backup.take(settings: settings, logger: logger)
        let bytes = archive.encoded()
        guard FileManager.default.createFile(atPath: out, contents: Data(bytes)) else {
            throw ValidationError("cannot write \(out)")
        }
        print("backup: \(archive.profiles.count) profiles, \(archive.checkpoints.count) checkpoints "
              + "(pairs \(archive.checkpoints.map(\.pair))), \(bytes.count) bytes written to \(out)")
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Load a backup archive into this cluster's topics, so that an engine of --group continues from it.",
        discussion: "Writes the profiles, the checkpoints rebased onto the end of this cluster's input topics, and the group's committed offsets there."
    )

    @Argument(help: "The archive written by amore backup.")
    var archive: String
    @OptionGroup var deployment: DeploymentOptions
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let (layers, logger) = try await common.load()
        guard let data = FileManager.default.contents(atPath: archive) else { throw ValidationError("cannot read \(archive)") }
        let loaded: BackupArchive
        do {
            loaded = try BackupArchive(bytes: Array(data))
        } catch {
            throw ValidationError("\(archive) is not a usable Amore backup: \(error)")
        }
        let (settings, localBroker) = try deployment.connect(layers, logger: logger)
        defer { localBroker?.stop() }
        for line in try Backup.restore(loaded, settings: settings, logger: logger) { print("restore: \(line)") }
    }
}

/// What names a deployment's state for `backup` and `restore`: its Kafka, its topics and
/// its engines' consumer group.
struct DeploymentOptions: ParsableArguments {
    @Option(help: "Consumer group of the deployment's engines. Env: AMORE_GROUP. Default amore-engine.")
    var group: String?
    @OptionGroup var kafkaOptions: KafkaOptions
    @OptionGroup var topicOptions: TopicOptions

    /// The deployment's settings, and the local broker started when no brokers are configured.
    func connect(_ layers: LayeredConfiguration, logger: Logger) throws -> (EngineSettings, LocalBroker?) {
        let (kafka, localBroker) = try kafkaOptions.connect(layers, logger: logger)
        var settings = try topicOptions.settings(kafka: kafka, layers)
        settings.groupID = layers.string(.group, flag: group, default: settings.groupID) ?? settings.groupID
        return (settings, localBroker)
    }
}
