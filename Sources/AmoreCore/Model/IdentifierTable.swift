/// Interns identifiers of one kind (restaurants, couriers, markets, zones) to compact,
/// dense integers at the edge, so that nothing downstream compares strings.
/// Single writer: owned by the partition that decodes into it.
public struct IdentifierTable: Sendable {
    private var indices: [Identifier: Int32] = [:]
    private var identifiers: [Identifier] = []

    public init() {}

    /// The index of `identifier`, assigned on first sight (0, 1, 2, ... in order of arrival).
    @inlinable
    public mutating func intern(_ identifier: Identifier) -> Int32 {
        if let index = lookup(identifier) { return index }
        return insert(identifier)
    }

    public func lookup(_ identifier: Identifier) -> Int32? { indices[identifier] }

    @usableFromInline
    mutating func insert(_ identifier: Identifier) -> Int32 {
        let index = Int32(identifiers.count)
        identifiers.append(identifier)
        indices[identifier] = index
        return index
    }

    public func identifier(at index: Int32) -> Identifier { identifiers[Int(index)] }
    public var count: Int { identifiers.count }
}
