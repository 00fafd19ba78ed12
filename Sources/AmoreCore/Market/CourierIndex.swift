#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Couriers' last status and position, with available couriers in a grid of small cells
/// so that the nearest one to a restaurant is found by looking at a few cells.
///
/// Distances here are equirectangular (flat within a city: under 0.1 % from the
/// great circle at 10 km), which makes a candidate a few multiplications.
struct CourierIndex {
    struct Courier {
        var lat_deg: Double
        var lon_deg: Double
        var lastPing_ms: Int64
        var status: CourierStatus
        /// The grid cell holding it, or `CourierIndex.notInGrid`.
        var cell: Int64
        var positionInCell: Int32
    }

    static let notInGrid = Int64.min
    /// Cell edge in degrees (about 560 m of latitude, 480 m of longitude at Austin).
    static let cell_deg = 0.005
    static let metresPerDegree = 6_371_008.8 * Double.pi / 180

    private(set) var couriers: [Courier] = []
    private var indices: [Identifier: Int32] = [:]
    private var grid: [Int64: [Int32]] = [:]

    var count: Int { couriers.count }

    /// Records the ping; the courier is searchable while its status is available.
    mutating func apply(_ ping: CourierPing, capacity: Int) -> ApplyOutcome {
        let index: Int
        if let known = indices[ping.courierID] {
            index = Int(known)
            let courier = couriers[index]
            if ping.eventTime_ms < courier.lastPing_ms { return .late }
            if ping.eventTime_ms == courier.lastPing_ms, ping.lat_deg == courier.lat_deg, ping.lon_deg == courier.lon_deg,
               ping.status == courier.status { return .duplicate }
        } else {
            guard couriers.count < capacity else { return .overCapacity }
            index = couriers.count
            indices[ping.courierID] = Int32(index)
            couriers.append(Courier(lat_deg: ping.lat_deg, lon_deg: ping.lon_deg, lastPing_ms: ping.eventTime_ms,
                                    status: ping.status, cell: Self.notInGrid, positionInCell: 0))
        }
        couriers[index].lat_deg = ping.lat_deg
        couriers[index].lon_deg = ping.lon_deg
        couriers[index].lastPing_ms = ping.eventTime_ms
        couriers[index].status = ping.status
        let cell = ping.status == .available ? Self.cell(lat_deg: ping.lat_deg, lon_deg: ping.lon_deg) : Self.notInGrid
        if cell != couriers[index].cell { move(index, to: cell) }
        return .applied
    }

    /// Takes couriers that have not pinged since `before_ms` out of the grid (they are
    /// skipped by searches anyway; this keeps cells short).
    mutating func removeStale(lastPingBefore before_ms: Int64) {
        for index in couriers.indices where couriers[index].cell != Self.notInGrid && couriers[index].lastPing_ms < before_ms {
            move(index, to: Self.notInGrid)
        }
    }

    /// The nearest available courier that pinged at or after `freshSince_ms`, within
    /// `radius_m` of the point: its distance in metres, or nil.
    func nearestAvailable(lat_deg: Double, lon_deg: Double, cosLat: Double, within radius_m: Double,
                          freshSince_ms: Int64) -> Double? {
        let centreY = Int64((lat_deg / Self.cell_deg).rounded(.down))
        let centreX = Int64((lon_deg / Self.cell_deg).rounded(.down))
        // Every point in ring k+1 is at least k cell edges away.
        let edge_m = Self.cell_deg * Self.metresPerDegree * min(1, cosLat) * 0.999
        let maxRing = Int64((radius_m / edge_m).rounded(.up)) + 1
        var best2 = radius_m * radius_m
        var found = false
        var ring: Int64 = 0
        while ring <= maxRing {
            for y in (centreY - ring)...(centreY + ring) {
                let onEdge = y == centreY - ring || y == centreY + ring
                var x = centreX - ring
                while x <= centreX + ring {
                    if let cell = grid[Self.key(y: y, x: x)] {
                        for courierIndex in cell {
                            let courier = couriers[Int(courierIndex)]
                            if courier.lastPing_ms < freshSince_ms { continue }
                            let dy = (courier.lat_deg - lat_deg) * Self.metresPerDegree
                            let dx = (courier.lon_deg - lon_deg) * Self.metresPerDegree * cosLat
                            let d2 = dx * dx + dy * dy
                            if d2 < best2 || (!found && d2 == best2) { best2 = d2; found = true }
                        }
                    }
                    // Inside rows only the two edge cells belong to the ring.
                    x += onEdge || x == centreX + ring ? 1 : 2 * ring
                }
            }
            let reach = Double(ring) * edge_m
            if found && best2 <= reach * reach { break }
            ring += 1
        }
        return found ? best2.squareRoot() : nil
    }

    static func cell(lat_deg: Double, lon_deg: Double) -> Int64 {
        key(y: Int64((lat_deg / cell_deg).rounded(.down)), x: Int64((lon_deg / cell_deg).rounded(.down)))
    }

    @inline(__always)
    static func key(y: Int64, x: Int64) -> Int64 { y << 32 | (x & 0xFFFF_FFFF) }

    private mutating func move(_ index: Int, to cell: Int64) {
        let old = couriers[index].cell
        if old != Self.notInGrid, var members = grid.removeValue(forKey: old) {
            let position = Int(couriers[index].positionInCell)
            let last = members.removeLast()
            if position < members.count {
                members[position] = last
                couriers[Int(last)].positionInCell = Int32(position)
            }
            if !members.isEmpty { grid[old] = members }
        }
        couriers[index].cell = cell
        if cell != Self.notInGrid {
            couriers[index].positionInCell = Int32(grid[cell]?.count ?? 0)
            grid[cell, default: []].append(Int32(index))
        }
    }
}
