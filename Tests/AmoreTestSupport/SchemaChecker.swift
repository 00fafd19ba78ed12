import Foundation

/// `schemas/check_examples.py`: Python's jsonschema judging documents against the contracts.
public enum SchemaChecker {
    public static let schemasURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("schemas")

    public struct PythonUnavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs the checker with `arguments`; returns (exit code, stdout lines).
    public static func run(_ arguments: [String]) throws -> (Int32, [String]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", schemasURL.appendingPathComponent("check_examples.py").path] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if errorText.contains("ModuleNotFoundError") || errorText.contains("No such file") {
            throw PythonUnavailable(description: "python3 with jsonschema is needed (run scripts/setup): \(errorText)")
        }
        return (process.terminationStatus, String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init))
    }

    /// Validates each document against `schema` (e.g. "ranking"); (exit code, one line per
    /// invalid document). The documents go to the checker as one NDJSON file.
    public static func validate(_ schema: String, _ documents: [[UInt8]]) throws -> (Int32, [String]) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("amore-\(schema)-\(UUID().uuidString).ndjson")
        defer { try? FileManager.default.removeItem(at: file) }
        var lines: [UInt8] = []
        for document in documents {
            precondition(!document.contains(UInt8(ascii: "\n")), "a document with a raw newline cannot be one NDJSON line")
            lines += document
            lines.append(UInt8(ascii: "\n"))
        }
        try Data(lines).write(to: file)
        return try run(["--validate-lines", schema, file.path])
    }
}
