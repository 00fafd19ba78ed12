/// A market's state as bytes and back (docs/checkpoints.md has the layout). Restoring
/// and then applying the events after the checkpoint gives bit-identical rankings and
/// versions to applying every event from the start: everything that decides a future
/// ranking is written (learned prep times, open orders, couriers, zone members and what
/// each zone last published), in the order the state iterates it.
extension MarketState {
    /// Appends this market's state. Call between events (after `takePublishedZones()`).
    public func write(to writer: inout CheckpointWriter) {
        writer.write(marketID)
        writeCounters(&writer)
        writer.write(clock_ms)
        writer.write(rankingsAsOf_ms)
        writer.write(nextSweep_ms)

        writer.writeCount(restaurants.count)
        for (index, restaurant) in restaurants.enumerated() {
            writer.write(restaurantIndices[Int32(index)])
            writer.write(restaurant.lat_deg)
            writer.write(restaurant.lon_deg)
            writer.write(restaurant.prep_s)
            writer.write(restaurant.updatedAt_ms)
            writer.write(restaurant.ovens)
            writer.write(restaurant.defaultPrep_s)
            writer.write(restaurant.deliveryRadius_m)
            writer.write(restaurant.ordersInKitchen)
            writer.write(restaurant.cosLat)
            Self.write(restaurant.announced, to: &writer)
            writer.write(restaurant.styles.rawValue)
            let flags = (restaurant.hasProfile ? 1 : 0) | (restaurant.isOpen ? 2 : 0) | (restaurant.prepSeeded ? 4 : 0)
                | (restaurant.prepLearned ? 8 : 0) | (restaurant.boardIndex >= 0 ? 16 : 0)
            writer.write(UInt8(flags))
            let zoneList = Array(restaurantZones[index])
            writer.writeCount(zoneList.count)
            for zone in zoneList { writer.writeCount(Int(zone)) }
        }

        var snapshot = ZoneSnapshot()
        writer.writeCount(zones.count)
        for zone in zones {
            writer.write(zone.cellBits)
            writer.write(zone.version)
            writer.write(zone.publishedAt_ms)
            writer.write(zone.isMarked)
            writer.writeCount(zone.members.count)
            for member in zone.members { writer.write(member) }
            // What the zone last published decides whether the next candidate differs
            // materially: it goes with the state (restaurants by id, not board index).
            let hasSnapshot = zone.publishedAt_ms != .min && board.read(cell(of: zone), into: &snapshot)
            writer.write(hasSnapshot)
            guard hasSnapshot else { continue }
            writer.write(snapshot.version)
            writer.write(snapshot.asOf_ms)
            writer.write(Int32(snapshot.handoff_s))
            writer.writeCount(snapshot.entries.count)
            for entry in snapshot.entries {
                writer.write(board.identifier(at: entry.restaurant))
                writer.write(entry.queueWait_s)
                writer.write(entry.prep_s)
                writer.write(entry.courierArrival_s)
                writer.write(entry.travel_s)
                writer.write(entry.styles.rawValue)
                writer.write(entry.reason.map { $0.rawValue + 1 } ?? 0)
            }
        }
        writer.writeCount(markedZones.count)
        for zone in markedZones { writer.writeCount(Int(zone)) }

        writer.writeCount(orders.orders.count)
        for (id, order) in orders.orders {
            writer.write(id)
            writer.writeCount(Int(order.restaurant))
            writer.write(order.stage.rawValue)
            writer.write(order.started_ms)
            writer.write(order.updated_ms)
        }

        writer.writeCount(couriers.couriers.count)
        for (index, courier) in couriers.couriers.enumerated() {
            writer.write(couriers.identifier(at: index))
            writer.write(courier.lat_deg)
            writer.write(courier.lon_deg)
            writer.write(courier.lastPing_ms)
            writer.write(courier.status.rawValue)
            writer.write(courier.isInGrid)
        }
    }

    /// Reads a market written by `write(to:)`, registering it and its restaurants on
    /// `board` and putting each zone's last publication back on it. Throws on anything
    /// that does not fit together (never traps on bad bytes).
    public static func restored(from reader: inout CheckpointReader, board: RankingBoard,
                                settings: MarketSettings) throws(CheckpointError) -> MarketState {
        var state = MarketState(marketID: try reader.readIdentifier("market_id"), board: board, settings: settings)
        try state.read(&reader)
        return state
    }

    private mutating func read(_ reader: inout CheckpointReader) throws(CheckpointError) {
        try readCounters(&reader)
        clock_ms = try reader.readOptional("clock_ms")
        rankingsAsOf_ms = try reader.readOptional("rankings_as_of_ms")
        nextSweep_ms = try reader.read(Int64.self, "next_sweep_ms")

        let restaurantCount = try reader.readCount("restaurants", limit: min(settings.maxRestaurants, reader.remaining))
        var zoneLists: [[Int32]] = []
        zoneLists.reserveCapacity(restaurantCount)
        for _ in 0..<restaurantCount {
            let id = try reader.readIdentifier("restaurant_id")
            guard restaurantIndices.number(of: id) == nil else { throw .invalid(field: "restaurant_id", offset: reader.offset) }
            _ = restaurantIndices.add(id)
            var restaurant = Restaurant()
            restaurant.lat_deg = try reader.readDouble("lat_deg")
            restaurant.lon_deg = try reader.readDouble("lon_deg")
            restaurant.prep_s = try reader.readDouble("prep_s")
            restaurant.updatedAt_ms = try reader.read(Int64.self, "updated_at_ms")
            restaurant.ovens = try reader.read(Int32.self, "ovens")
            restaurant.defaultPrep_s = try reader.read(Int32.self, "default_prep_s")
            restaurant.deliveryRadius_m = try reader.read(Int32.self, "delivery_radius_m")
            restaurant.ordersInKitchen = try reader.read(Int32.self, "orders_in_kitchen")
            restaurant.cosLat = try reader.readFloat("cos_lat")
            restaurant.announced = try Self.readEstimate(&reader)
            restaurant.styles = PizzaStyles(rawValue: try reader.read(UInt16.self, "styles"))
            let flags = try reader.read(UInt8.self, "restaurant_flags")
            guard flags < 32 else { throw .invalid(field: "restaurant_flags", offset: reader.offset - 1) }
            restaurant.hasProfile = flags & 1 != 0
            restaurant.isOpen = flags & 2 != 0
            restaurant.prepSeeded = flags & 4 != 0
            restaurant.prepLearned = flags & 8 != 0
            if flags & 16 != 0 {
                guard let index = board.register(id) else { throw .invalid(field: "restaurant_id (board full)", offset: reader.offset) }
                restaurant.boardIndex = index
            }
            restaurants.append(restaurant)
            let count = try reader.readCount("restaurant_zones", limit: reader.remaining)
            var list: [Int32] = []
            list.reserveCapacity(count)
            for _ in 0..<count { list.append(Int32(try reader.readCount("restaurant_zone", limit: Int(Int32.max)))) }
            zoneLists.append(list)
        }

        let zoneCount = try reader.readCount("zones", limit: reader.remaining)
        zones.reserveCapacity(zoneCount)
        var entries: [RankedRestaurant] = []
        for index in 0..<zoneCount {
            var zone = Zone(cellBits: try reader.read(UInt64.self, "cell_bits"))
            zone.version = try reader.read(Int64.self, "zone_version")
            zone.publishedAt_ms = try reader.read(Int64.self, "published_at_ms")
            zone.isMarked = try reader.readBool("is_marked")
            let memberCount = try reader.readCount("members", limit: min(restaurantCount, reader.remaining / 4))
            zone.members.reserveCapacity(memberCount)
            for _ in 0..<memberCount {
                let member = try reader.read(UInt32.self, "member")
                guard Int(member & 0xFFFF) < restaurantCount else { throw .invalid(field: "member", offset: reader.offset - 4) }
                zone.members.append(member)
            }
            guard zoneIndices.updateValue(Int32(index), forKey: zone.cellBits) == nil else {
                throw .invalid(field: "cell_bits (repeated)", offset: reader.offset)
            }
            if try reader.readBool("has_snapshot") {
                let version = try reader.read(Int64.self, "snapshot_version")
                let asOf_ms = try reader.read(Int64.self, "snapshot_as_of_ms")
                let handoff_s = try reader.read(Int32.self, "snapshot_handoff_s")
                guard (0...65_535).contains(handoff_s) else { throw .invalid(field: "snapshot_handoff_s", offset: reader.offset - 4) }
                let count = try reader.readCount("snapshot_entries", limit: board.maxEntriesPerZone)
                entries.removeAll(keepingCapacity: true)
                for _ in 0..<count {
                    let id = try reader.readIdentifier("entry_restaurant")
                    guard let restaurant = board.register(id) else { throw .invalid(field: "entry_restaurant (board full)", offset: reader.offset) }
                    let queue = try reader.read(Int32.self, "entry_queue_wait_s")
                    let prep = try reader.read(Int32.self, "entry_prep_s")
                    let courier = try reader.read(Int32.self, "entry_courier_arrival_s")
                    let travel = try reader.read(Int32.self, "entry_travel_s")
                    let styles = PizzaStyles(rawValue: try reader.read(UInt16.self, "entry_styles"))
                    let reason = try Self.readReason(&reader)
                    let carry = queue &+ prep
                    entries.append(RankedRestaurant(
                        restaurant: restaurant, deliveryETA_s: max(carry, courier) &+ handoff_s &+ travel, queueWait_s: queue,
                        prep_s: prep, courierArrival_s: courier, handoff_s: handoff_s, travel_s: travel, carryOutReady_s: carry,
                        styles: styles, confidence: reason == nil ? .high : .low, reason: reason))
                }
                let cell = cell(of: zone)
                let market = boardMarket
                _ = entries.withUnsafeBufferPointer {
                    board.publish(cell, market: market, version: version, asOf_ms: asOf_ms, entries: $0)
                }
            }
            zones.append(zone)
        }
        for list in zoneLists {
            guard list.allSatisfy({ $0 < zoneCount }) else { throw .invalid(field: "restaurant_zone", offset: reader.offset) }
            restaurantZones.append(ZoneList(list))
        }
        let markedCount = try reader.readCount("marked_zones", limit: zoneCount)
        for _ in 0..<markedCount {
            let zone = try reader.readCount("marked_zone", limit: max(0, zoneCount - 1))
            guard zones[zone].isMarked else { throw .invalid(field: "marked_zone", offset: reader.offset) }
            markedZones.append(Int32(zone))
        }

        let orderCount = try reader.readCount("orders", limit: reader.remaining)
        orders.orders.reserveCapacity(orderCount)
        for _ in 0..<orderCount {
            let id = try reader.readIdentifier("order_id")
            let restaurant = try reader.readCount("order_restaurant", limit: max(0, restaurantCount - 1))
            let stage = try reader.readEnum(OrderEventType.self, "order_stage")
            let started = try reader.readOptional("order_started_ms")
            let updated = try reader.read(Int64.self, "order_updated_ms")
            orders.orders[id] = OrderBook.Order(restaurant: Int32(restaurant), stage: stage, started_ms: started, updated_ms: updated)
        }

        let courierCount = try reader.readCount("couriers", limit: min(settings.maxCouriers, reader.remaining))
        for _ in 0..<courierCount {
            let id = try reader.readIdentifier("courier_id")
            let lat = try reader.readFloat("courier_lat_deg")
            let lon = try reader.readFloat("courier_lon_deg")
            let lastPing = try reader.read(Int64.self, "courier_last_ping_ms")
            let status = try reader.readEnum(CourierStatus.self, "courier_status")
            let inGrid = try reader.readBool("courier_in_grid")
            guard inGrid == false || status == .available else { throw .invalid(field: "courier_in_grid", offset: reader.offset - 1) }
            couriers.restore(id, lat_deg: lat, lon_deg: lon, lastPing_ms: lastPing, status: status, isInGrid: inGrid)
        }
    }

    private func writeCounters(_ writer: inout CheckpointWriter) {
        for counts in [counters.profiles, counters.orders, counters.pings] {
            writer.writeCount(counts.counts.count)
            for count in counts.counts { writer.write(Int64(count)) }
        }
        for value in [counters.prepSamples, counters.implausiblePrepSamples, counters.forgottenOrders,
                      counters.publications, counters.heartbeats, counters.zonesOverCapacity] {
            writer.write(Int64(value))
        }
    }

    private mutating func readCounters(_ reader: inout CheckpointReader) throws(CheckpointError) {
        func outcomes() throws(CheckpointError) -> OutcomeCounts {
            let count = try reader.readCount("outcome_counts", limit: ApplyOutcome.allCases.count)
            guard count == ApplyOutcome.allCases.count else { throw .invalid(field: "outcome_counts", offset: reader.offset) }
            var counts = OutcomeCounts()
            for index in 0..<count { counts.counts[index] = Int(try reader.read(Int64.self, "outcome_count")) }
            return counts
        }
        counters.profiles = try outcomes()
        counters.orders = try outcomes()
        counters.pings = try outcomes()
        counters.prepSamples = Int(try reader.read(Int64.self, "prep_samples"))
        counters.implausiblePrepSamples = Int(try reader.read(Int64.self, "implausible_prep_samples"))
        counters.forgottenOrders = Int(try reader.read(Int64.self, "forgotten_orders"))
        counters.publications = Int(try reader.read(Int64.self, "publications"))
        counters.heartbeats = Int(try reader.read(Int64.self, "heartbeats"))
        counters.zonesOverCapacity = Int(try reader.read(Int64.self, "zones_over_capacity"))
    }

    private static func write(_ estimate: RestaurantEstimate, to writer: inout CheckpointWriter) {
        writer.write(estimate.queueWait_s)
        writer.write(estimate.prep_s)
        writer.write(estimate.courierArrival_s)
        writer.write(estimate.handoff_s)
        writer.write(estimate.reason.map { $0.rawValue + 1 } ?? 0)
    }

    private static func readEstimate(_ reader: inout CheckpointReader) throws(CheckpointError) -> RestaurantEstimate {
        RestaurantEstimate(queueWait_s: try reader.read(Int32.self, "queue_wait_s"), prep_s: try reader.read(Int32.self, "prep_s"),
                           courierArrival_s: try reader.read(Int32.self, "courier_arrival_s"),
                           handoff_s: try reader.read(Int32.self, "handoff_s"), reason: try readReason(&reader))
    }

    private static func readReason(_ reader: inout CheckpointReader) throws(CheckpointError) -> EstimateReason? {
        let code = try reader.read(UInt8.self, "reason")
        guard code != 0 else { return nil }
        guard let reason = EstimateReason(rawValue: code - 1) else { throw .invalid(field: "reason", offset: reader.offset - 1) }
        return reason
    }
}

extension MarketSettings {
    /// Changes whenever any setting does: a checkpoint written under other settings
    /// would restore rankings these settings would not have made (FNV-1a of the
    /// settings' description).
    public var fingerprint: UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in String(describing: self).utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash
    }
}
