/// librdkafka properties, passed through verbatim (see librdkafka's CONFIGURATION.md).
///
/// Security settings (`security.protocol`, `sasl.*`, `ssl.*`) need nothing special:
/// set them like any other property. Unknown or invalid properties are rejected when
/// a client is created, with librdkafka's own message.
public struct KafkaConfiguration: Sendable, Equatable {
    public var properties: [String: String]

    public init(_ properties: [String: String] = [:]) {
        self.properties = properties
    }

    public init(bootstrapServers: String, _ properties: [String: String] = [:]) {
        self.properties = properties
        self.properties["bootstrap.servers"] = bootstrapServers
    }

    public subscript(property: String) -> String? {
        get { properties[property] }
        set { properties[property] = newValue }
    }

    /// Parses `key=value` pairs as given on a command line (`--kafka key=value`).
    public static func parse(assignments: [String]) throws -> KafkaConfiguration {
        var configuration = KafkaConfiguration()
        for assignment in assignments {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                throw KafkaError.configuration(property: assignment, message: "expected key=value")
            }
            let key = String(assignment[..<equals]).trimmingWhitespace()
            configuration[key] = String(assignment[assignment.index(after: equals)...])
        }
        return configuration
    }

    /// These properties with `defaults` filled in where the caller set nothing.
    public func withDefaults(_ defaults: [String: String]) -> KafkaConfiguration {
        KafkaConfiguration(properties.merging(defaults) { mine, _ in mine })
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while slice.first?.isWhitespace == true { slice.removeFirst() }
        while slice.last?.isWhitespace == true { slice.removeLast() }
        return String(slice)
    }
}
