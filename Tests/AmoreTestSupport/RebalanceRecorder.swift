import AmoreKafka

/// A rebalance listener that hands every event to a closure (tests that only watch).
/// `Consumer` holds its listener weakly: keep this alive while subscribed.
public final class RebalanceRecorder: RebalanceListener {
    private let onEvent: @Sendable (RebalanceEvent) -> Void

    public init(_ onEvent: @escaping @Sendable (RebalanceEvent) -> Void) {
        self.onEvent = onEvent
    }

    public func rebalanced(_ event: RebalanceEvent) { onEvent(event) }
}
