import ArgumentParser
import Configuration
import Foundation
import Synchronization
import SystemPackage

/// Amore's settings, layered: a flag wins over its environment variable, which wins over
/// a secret file, which wins over the configuration file (`--config` / `AMORE_CONFIG`),
/// which wins over the built-in default. Read through swift-configuration; every lookup
/// records its value (secrets redacted) and where it came from, which is what
/// `amore config` prints.
final class LayeredConfiguration: Sendable {
    /// Where an effective value came from.
    enum Source: Sendable, Equatable, CustomStringConvertible {
        case flag(String)
        case environment(String)
        case secretFile(String)
        case file(String)
        case defaultValue

        var description: String {
            switch self {
            case .flag(let flag): "flag \(flag)"
            case .environment(let variable): "environment \(variable)"
            case .secretFile(let path): "secret file \(path)"
            case .file(let path): "file \(path)"
            case .defaultValue: "default"
            }
        }
    }

    /// One effective setting, as `amore config` prints it.
    struct Effective: Sendable {
        let key: String
        /// The value as printed: secrets are `<redacted>`.
        let shown: String
        let source: Source
    }

    /// Printed instead of a secret's value.
    static let redacted = "<redacted>"

    let filePath: String?
    private let fileKeys: [String]
    private let reader: ConfigReader
    private let reporter: LookupReporter
    private let secretsDirectory: String?
    private let resolved = Mutex<[String: Effective]>([:])

    /// Reads the file (refusing a key it does not know, by name), the environment and the
    /// secrets directory the file or the environment names.
    /// - Parameter file: `--config`; else `AMORE_CONFIG`; else none.
    /// - Parameter describing: `amore config`: a secrets directory that does not exist here is
    ///   shown as missing instead of refused (the example files name the one in the pod).
    init(file: String?, describing: Bool = false,
         environment: [String: String] = ProcessInfo.processInfo.environment) async throws {
        let path = file ?? environment[SettingKey.configFileVariable]
        filePath = path
        var fileProvider: FileProvider<JSONSnapshot>?
        if let path {
            guard FileManager.default.fileExists(atPath: path) else {
                throw ValidationError("configuration file \(path): no such file")
            }
            fileKeys = try Self.checkedKeys(ofFile: path)
            do {
                fileProvider = try await FileProvider<JSONSnapshot>(filePath: FilePath(path))
            } catch {
                throw ValidationError("configuration file \(path): \(error)")
            }
        } else {
            fileKeys = []
        }
        // A variable for each key: engine.http and serve.http share AMORE_HTTP (each command reads one).
        let variables = Dictionary(SettingKey.all.map { ($0.name, $0.variable) }, uniquingKeysWith: { first, _ in first })
        let environmentProvider = KeyMappingProvider(
            upstream: EnvironmentVariablesProvider(environmentVariables: environment),
            keyMapper: { key in AbsoluteConfigKey([variables[key.components.joined(separator: ".")] ?? "AMORE_UNMAPPED_KEY"]) })

        // The secrets directory itself comes from the flag, the environment or the file.
        var providers: [any ConfigProvider] = [environmentProvider]
        if let fileProvider { providers.append(fileProvider) }
        // An empty value (AMORE_KAFKA_SECRETS_DIR=) turns off the file's directory.
        let named = ConfigReader(providers: providers).string(forKey: ConfigKey(SettingKey.kafkaSecretsDirectory.name))
        var directory = named.flatMap { $0.isEmpty ? nil : $0 }
        if let path = directory, describing, !FileManager.default.fileExists(atPath: path) { directory = nil }
        secretsDirectory = directory
        var labels: [Source] = [.environment("")]
        if let directory {
            do {
                providers.insert(try await DirectoryFilesProvider(directoryPath: FilePath(directory)), at: 1)
            } catch {
                throw ValidationError("kafka secrets directory \(directory): \(error)")
            }
            labels.append(.secretFile(directory))
        }
        if let path { labels.append(.file(path)) }
        reporter = LookupReporter(labels: labels)
        reader = ConfigReader(providers: providers, accessReporter: reporter)
        if let named, !named.isEmpty {
            _ = string(.kafkaSecretsDirectory, flag: nil)
            if directory == nil { record(SettingKey.kafkaSecretsDirectory.name, "\(named) (not found here)", source(of: .kafkaSecretsDirectory)) }
        }
    }

    // MARK: Lookups (each records what it found)

    /// The flag, else the layers, else `defaultValue`.
    func string(_ key: SettingKey, flag: String?, default defaultValue: String? = nil) -> String? {
        if let flag {
            record(key.name, flag, .flag(key.flag ?? key.name))
            return flag
        }
        if let value = reader.string(forKey: ConfigKey(key.name)) {
            record(key.name, value, source(of: key))
            return value
        }
        if let defaultValue { record(key.name, defaultValue, .defaultValue) }
        return defaultValue
    }

    /// A whole number: the flag, else the layers (refused by name when not a number), else `defaultValue`.
    func number<T: FixedWidthInteger & Sendable>(_ key: SettingKey, flag: T?, default defaultValue: T? = nil) throws -> T? {
        if let flag {
            record(key.name, "\(flag)", .flag(key.flag ?? key.name))
            return flag
        }
        let value: Int
        do {
            value = try reader.requiredInt(forKey: ConfigKey(key.name))
        } catch {
            // Missing everywhere (no layer answered) takes the default; anything else is a bad value.
            guard reporter.lastLabel != nil else {
                if let defaultValue { record(key.name, "\(defaultValue)", .defaultValue) }
                return defaultValue
            }
            let raw = reader.string(forKey: ConfigKey(key.name)).map { "'\($0)'" } ?? "the value"
            throw ValidationError("\(key.name) (\(source(of: key))): \(raw) is not a whole number")
        }
        guard let typed = T(exactly: value) else {
            throw ValidationError("\(key.name) (\(source(of: key))): \(value) is out of range")
        }
        record(key.name, "\(typed)", source(of: key))
        return typed
    }

    /// On or off: a flag that turns it off, else the layers (`on`/`off`, `true`/`false`), else `defaultValue`.
    func switchedOn(_ key: SettingKey, offFlag: Bool, default defaultValue: Bool) throws -> Bool {
        if offFlag {
            record(key.name, "off", .flag(key.flag ?? key.name))
            return false
        }
        let value: Bool
        if let text = try? reader.requiredString(forKey: ConfigKey(key.name)) {
            switch text.lowercased() {
            case "on", "true", "yes", "1": value = true
            case "off", "false", "no", "0": value = false
            default: throw ValidationError("\(key.name) (\(source(of: key))): '\(text)' is neither on nor off")
            }
        } else if let flag = try? reader.requiredBool(forKey: ConfigKey(key.name)) {
            value = flag
        } else if reporter.lastLabel != nil {
            throw ValidationError("\(key.name) (\(source(of: key))): not on, off, true or false")
        } else {
            record(key.name, defaultValue ? "on" : "off", .defaultValue)
            return defaultValue
        }
        record(key.name, value ? "on" : "off", source(of: key))
        return value
    }

    /// Librdkafka properties, layered per property: the file's `kafka.properties`, then
    /// `AMORE_KAFKA`, then the secrets directory, then `--kafka` flags.
    func kafkaProperties(flags: [String], environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [(String, String)] {
        var properties: [String: (value: String, source: Source)] = [:]
        let prefix = SettingKey.kafkaPropertiesPrefix + "."
        for fileKey in fileKeys where fileKey.hasPrefix(prefix) {
            let name = String(fileKey.dropFirst(prefix.count))
            guard let value = reader.string(forKey: ConfigKey(SettingKey.kafkaPropertiesPrefix.split(separator: ".").map(String.init) + [name]),
                                            isSecret: SettingKey.secretKafkaProperties.contains(name)) else {
                throw ValidationError("\(fileKey) (file \(filePath ?? "")): must be a string")
            }
            properties[name] = (value, .file(filePath ?? ""))
        }
        for (index, assignment) in try Self.splitAssignments(environment[SettingKey.kafkaPropertiesVariable] ?? "").enumerated() {
            let (name, value) = try Self.property(assignment, from: "\(SettingKey.kafkaPropertiesVariable) (assignment \(index + 1))")
            properties[name] = (value, .environment(SettingKey.kafkaPropertiesVariable))
        }
        if let secretsDirectory {
            for name in SettingKey.secretKafkaProperties.sorted() {
                if let value = reader.string(forKey: ConfigKey([name]), isSecret: true), reporter.lastLabel == .secretFile(secretsDirectory) {
                    properties[name] = (value.trimmingCharacters(in: .newlines), .secretFile(secretsDirectory))
                }
            }
        }
        for (index, assignment) in flags.enumerated() {
            let (name, value) = try Self.property(assignment, from: "--kafka (occurrence \(index + 1))")
            properties[name] = (value, .flag("--kafka"))
        }
        for (name, entry) in properties { record("\(prefix)\(name)", entry.value, entry.source) }
        return properties.map { ($0.key, $0.value.value) }.sorted { $0.0 < $1.0 }
    }

    /// Everything looked up so far, in `SettingKey.all`'s order, then the Kafka properties.
    var effective: [Effective] {
        let found = resolved.withLock { $0 }
        let order = Dictionary(SettingKey.all.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        return found.values.sorted { (order[$0.key] ?? Int.max, $0.key) < (order[$1.key] ?? Int.max, $1.key) }
    }

    // MARK: Parts

    private func record(_ key: String, _ value: String, _ source: Source) {
        let name = key.hasPrefix(SettingKey.kafkaPropertiesPrefix + ".") ? String(key.dropFirst(SettingKey.kafkaPropertiesPrefix.count + 1)) : key
        let secret = SettingKey.secretKafkaProperties.contains(name)
        resolved.withLock { $0[key] = Effective(key: key, shown: secret ? Self.redacted : value, source: source) }
    }

    private func source(of key: SettingKey) -> Source {
        switch reporter.label(of: key.name) {
        case .environment?: .environment(key.variable)
        case let label?: label
        case nil: .defaultValue
        }
    }

    /// The file's keys, flattened with dots; any key Amore does not know is refused by name.
    static func checkedKeys(ofFile path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("configuration file \(path): cannot be read")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ValidationError("configuration file \(path): not JSON (\(error.localizedDescription))")
        }
        guard let root = object as? [String: Any] else {
            throw ValidationError("configuration file \(path): the top level must be an object")
        }
        var keys: [String] = []
        func walk(_ object: [String: Any], _ prefix: String) {
            for (name, value) in object {
                let key = prefix.isEmpty ? name : "\(prefix).\(name)"
                if key == SettingKey.kafkaPropertiesPrefix, let properties = value as? [String: Any] {
                    keys += properties.keys.map { "\(key).\($0)" }
                } else if let nested = value as? [String: Any] {
                    walk(nested, key)
                } else {
                    keys.append(key)
                }
            }
        }
        walk(root, "")
        let known = Set(SettingKey.all.map(\.name))
        for key in keys.sorted() where !known.contains(key) && !key.hasPrefix(SettingKey.kafkaPropertiesPrefix + ".") {
            let section = key.split(separator: ".").first.map(String.init) ?? key
            let near = SettingKey.all.map(\.name).filter { $0.hasPrefix(section + ".") }
            throw ValidationError("configuration file \(path): unknown key '\(key)'"
                                  + (near.isEmpty ? "" : " (known in '\(section)': \(near.joined(separator: ", ")))"))
        }
        return keys
    }

    /// `AMORE_KAFKA`'s assignments: separated by new lines or commas; `\,` is a comma in a
    /// value and `\\` a backslash (cipher lists and OAuth configurations hold commas).
    static func splitAssignments(_ text: String) throws -> [String] {
        var assignments: [String] = []
        var current = ""
        var escaped = false
        for character in text {
            if escaped {
                guard character == "," || character == "\\" else {
                    throw ValidationError("\(SettingKey.kafkaPropertiesVariable): '\\\(character)' is not an escape (only \\, and \\\\)")
                }
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "," || character == "\n" {
                assignments.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        if escaped { throw ValidationError("\(SettingKey.kafkaPropertiesVariable): ends in a lone backslash") }
        assignments.append(current)
        return assignments.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    private static func property(_ assignment: String, from origin: String) throws -> (String, String) {
        guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
            // Not shown: without its '=' the text may be a secret itself.
            throw ValidationError("\(origin): not key=value (the text is not shown: it may hold a secret)")
        }
        return (String(assignment[..<equals]), String(assignment[assignment.index(after: equals)...]))
    }
}

/// Remembers, for each key, which layer answered its last lookup.
private final class LookupReporter: AccessReporter, Sendable {
    private let labels: [LayeredConfiguration.Source]
    private let answered = Mutex<[String: LayeredConfiguration.Source]>([:])
    private let last = Mutex<LayeredConfiguration.Source?>(nil)

    init(labels: [LayeredConfiguration.Source]) { self.labels = labels }

    func report(_ event: AccessEvent) {
        let key = event.metadata.key.components.joined(separator: ".")
        var label: LayeredConfiguration.Source?
        for (index, result) in event.providerResults.enumerated() where index < labels.count {
            switch result.result {
            case .success(let lookup) where lookup.value != nil: label = labels[index]
            case .failure: label = labels[index]
            default: continue
            }
            break
        }
        last.withLock { $0 = label }
        if let label { answered.withLock { $0[key] = label } }
    }

    func label(of key: String) -> LayeredConfiguration.Source? { answered.withLock { $0[key] } }
    var lastLabel: LayeredConfiguration.Source? { last.withLock { $0 } }
}
