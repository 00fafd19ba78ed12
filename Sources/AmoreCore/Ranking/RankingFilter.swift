/// Which order a ranking is read in.
public enum RankingMode: String, Sendable {
    /// Fastest delivery first (the published order).
    case delivery
    /// Soonest carry-out first.
    case carryOut = "carry_out"
}

/// What a reader asks of a zone's ranking: restaurants serving a style, in delivery or
/// carry-out order, the first `limit`. One implementation for every reader (the engine's
/// and `amore serve`'s HTTP queries, `AmoreClient`).
public struct RankingFilter: Sendable, Equatable {
    public var style: PizzaStyles?
    public var mode: RankingMode
    public var limit: Int

    public init(style: PizzaStyles? = nil, mode: RankingMode = .delivery, limit: Int = 50) {
        self.style = style
        self.mode = mode
        self.limit = limit
    }
}

extension ZoneRanking {
    /// The entries `filter` keeps, in its order (carry-out ties keep the delivery order).
    public func filtered(_ filter: RankingFilter) -> ZoneRanking {
        var ranking = self
        if let style = filter.style { ranking.entries.removeAll { !$0.styles.contains(style) } }
        if filter.mode == .carryOut {
            ranking.entries = ranking.entries.enumerated().sorted {
                ($0.element.carryOutReady_s, $0.offset) < ($1.element.carryOutReady_s, $1.offset)
            }.map(\.element)
        }
        if ranking.entries.count > filter.limit { ranking.entries.removeLast(ranking.entries.count - filter.limit) }
        return ranking
    }
}
