import ArgumentParser
import Foundation

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print the effective configuration of `amore run` or `amore serve`, and where each value came from.",
        discussion: """
        Give the command and its options as you would run it: amore config run --config config/prod.json --group g. \
        A flag wins over its environment variable, which wins over a secret file (AMORE_KAFKA_SECRETS_DIR), which \
        wins over the configuration file (--config / AMORE_CONFIG), which wins over the default. Secrets are printed \
        as <redacted>. An unknown key in the file, or a value of the wrong kind, is refused by name. Starts nothing \
        and connects to nothing.
        """
    )

    @Argument(parsing: .captureForPassthrough, help: "run (the default) or serve, then its options.")
    var command: [String] = []

    func run() async throws {
        let name = command.first ?? "run"
        let arguments = Array(command.dropFirst())
        let layers: LayeredConfiguration
        switch name {
        case "run":
            let run = try Run.parse(arguments)
            layers = try await LayeredConfiguration(file: run.common.configFile, describing: true)
            _ = try run.common.level(layers)
            let kafka = try run.kafkaOptions.configuration(layers)
            _ = try run.engineOptions.endpoint(layers)
            _ = try run.engineOptions.settings(run.topicOptions.settings(kafka: kafka, layers), layers, localBroker: false)
        case "serve":
            let serve = try Serve.parse(arguments)
            layers = try await LayeredConfiguration(file: serve.common.configFile, describing: true)
            _ = try serve.common.level(layers)
            _ = try serve.resolve(layers)
        default:
            throw ValidationError("amore config describes run or serve, not '\(name)'")
        }
        print("# amore \(name): effective configuration (\(layers.filePath.map { "file \($0)" } ?? "no configuration file"))")
        let width = layers.effective.map(\.key.count).max() ?? 0
        for entry in layers.effective {
            print("\(entry.key.padding(toLength: width, withPad: " ", startingAt: 0))  \(entry.shown)  [\(entry.source)]")
        }
    }
}
