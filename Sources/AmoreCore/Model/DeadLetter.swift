/// A refused input record as it goes to the dead-letter topic: the original bytes
/// (base64, since they may not be text), why, and where it came from.
public struct DeadLetter: Sendable {
    public var rejection: EventRejection
    public var sourceTopic: String
    public var sourcePartition: Int32
    public var sourceOffset: Int64
    public var sourceTimestamp_ms: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    /// When the engine refused it (wall clock: for people, not for replay).
    public var rejectedAt_ms: Int64

    public init(rejection: EventRejection, sourceTopic: String, sourcePartition: Int32, sourceOffset: Int64,
                sourceTimestamp_ms: Int64, key: [UInt8]?, value: [UInt8]?, rejectedAt_ms: Int64) {
        self.rejection = rejection
        self.sourceTopic = sourceTopic
        self.sourcePartition = sourcePartition
        self.sourceOffset = sourceOffset
        self.sourceTimestamp_ms = sourceTimestamp_ms
        self.key = key
        self.value = value
        self.rejectedAt_ms = rejectedAt_ms
    }
}
