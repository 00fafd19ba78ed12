#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Couriers' last status and position, with available couriers in a grid of small cells
/// so that the nearest one to a restaurant is found by looking at a few cells.
///
/// Distances here are equirectangular (flat within a city: under 0.1 % from the great
/// circle at 10 km), which makes a candidate a few multiplications. Positions are kept
/// as `Float` (about a metre at city longitudes, finer than GPS) to keep a courier at
/// 32 bytes. Each cell is a list threaded through the couriers themselves, found through
/// an open-addressed table: no allocation and no reference counting per ping.
struct CourierIndex {
    struct Courier {
        var lat_deg: Float
        var lon_deg: Float
        var lastPing_ms: Int64
        /// Neighbours in its cell's list (-1: none).
        var previous: Int32 = -1
        var next: Int32 = -1
        var status: CourierStatus
        var isInGrid = false
    }

    /// Cell edge in degrees (about 110 m of latitude, 96 m of longitude at Austin). Small,
    /// because a search scans every courier of at least nine cells: at 0.005° a dense
    /// downtown (200,000 couriers in a city, the live benchmark) put ~1,000 in a cell and a
    /// refresh took 60-300 ms; sparse areas pay in empty cells instead, bounded by the
    /// occupied box below.
    static let cell_deg = 0.001

    private(set) var couriers: [Courier] = []
    private var indices = IdentifierIndex()
    private var cells = CellTable()
    /// Which cells hold a courier: lets a search skip empty cells without a table lookup.
    private var occupied = CellBitmap()
    /// The cells ever occupied lie in [minY, maxY] x [minX, maxX]: rings beyond are empty.
    private var minY = Int64.max, maxY = Int64.min, minX = Int64.max, maxX = Int64.min

    var count: Int { couriers.count }

    /// Records the ping; the courier is searchable while its status is available.
    mutating func apply(_ ping: CourierPing, capacity: Int) -> ApplyOutcome {
        let lat = Float(ping.lat_deg)
        let lon = Float(ping.lon_deg)
        let index: Int
        if let known = indices.number(of: ping.courierID) {
            index = Int(known)
            let courier = couriers[index]
            if ping.eventTime_ms < courier.lastPing_ms { return .late }
            if ping.eventTime_ms == courier.lastPing_ms, lat == courier.lat_deg, lon == courier.lon_deg,
               ping.status == courier.status { return .duplicate }
            if courier.isInGrid {
                // Still available and still in its cell (a ping moves a courier 15-45 m, a
                // cell is ~100 m): its list place stays right, no lookups needed.
                if ping.status == .available && Self.cell(lat_deg: lat, lon_deg: lon) == cell(of: courier) {
                    couriers[index].lat_deg = lat
                    couriers[index].lon_deg = lon
                    couriers[index].lastPing_ms = ping.eventTime_ms
                    return .applied
                }
                removeFromGrid(index)
            }
        } else {
            guard couriers.count < capacity else { return .overCapacity }
            index = Int(indices.add(ping.courierID))
            couriers.append(Courier(lat_deg: lat, lon_deg: lon, lastPing_ms: ping.eventTime_ms, status: ping.status))
        }
        couriers[index].lat_deg = lat
        couriers[index].lon_deg = lon
        couriers[index].lastPing_ms = ping.eventTime_ms
        couriers[index].status = ping.status
        if ping.status == .available { addToGrid(index) }
        return .applied
    }

    /// The identifier of the courier at `index` of `couriers`.
    func identifier(at index: Int) -> Identifier { indices[Int32(index)] }

    /// Adds a courier as a checkpoint holds it (in index order); its place in the grid is
    /// rebuilt (the order within a cell never changes a search's answer, only the nearest
    /// distance counts).
    mutating func restore(_ id: Identifier, lat_deg: Float, lon_deg: Float, lastPing_ms: Int64, status: CourierStatus,
                          isInGrid: Bool) {
        let index = Int(indices.add(id))
        couriers.append(Courier(lat_deg: lat_deg, lon_deg: lon_deg, lastPing_ms: lastPing_ms, status: status))
        if isInGrid { addToGrid(index) }
    }

    /// Takes couriers that have not pinged since `before_ms` out of the grid (they are
    /// skipped by searches anyway; this keeps cells short).
    mutating func removeStale(lastPingBefore before_ms: Int64) {
        for index in couriers.indices where couriers[index].isInGrid && couriers[index].lastPing_ms < before_ms {
            removeFromGrid(index)
        }
    }

    /// The nearest available courier that pinged at or after `freshSince_ms`, within
    /// `radius_m` of the point: its distance in metres, or nil.
    func nearestAvailable(lat_deg: Double, lon_deg: Double, cosLat: Double, within radius_m: Double,
                          freshSince_ms: Int64) -> Double? {
        let centreY = Int64((lat_deg / Self.cell_deg).rounded(.down))
        let centreX = Int64((lon_deg / Self.cell_deg).rounded(.down))
        // Every point in ring k+1 is at least k cell edges away.
        let edge_m = Self.cell_deg * Earth.metresPerDegree * min(1, cosLat) * 0.999
        let maxRing = Int64((radius_m / edge_m).rounded(.up)) + 1
        var best2 = radius_m * radius_m
        var found = false
        var ring: Int64 = 0
        guard minY <= maxY else { return nil }
        // Cell edges are widened by a hair so that float rounding of a courier's cell can
        // never put it closer than its cell's bound: pruning never changes the answer.
        let margin_deg = 1e-9
        couriers.withUnsafeBufferPointer { couriers in
            func scan(y: Int64, x: Int64) {
                // A cell that cannot hold anything nearer than the best so far is skipped
                // without a lookup: in a dense downtown (~100 couriers a cell at 200,000
                // couriers) most of a ring is farther than the courier found in the centre.
                let south = Double(y) * Self.cell_deg - margin_deg, north = Double(y + 1) * Self.cell_deg + margin_deg
                let west = Double(x) * Self.cell_deg - margin_deg, east = Double(x + 1) * Self.cell_deg + margin_deg
                let gapY = (lat_deg < south ? south - lat_deg : lat_deg > north ? lat_deg - north : 0) * Earth.metresPerDegree
                let gapX = (lon_deg < west ? west - lon_deg : lon_deg > east ? lon_deg - east : 0) * Earth.metresPerDegree * cosLat
                let bound2 = gapX * gapX + gapY * gapY
                if bound2 > best2 || (found && bound2 >= best2) { return }
                guard occupied.mayHold(y: y, x: x) else { return }
                var member = cells.head(of: Self.key(y: y, x: x))
                while member >= 0 {
                    let courier = couriers[Int(member)]
                    member = courier.next
                    if courier.lastPing_ms < freshSince_ms { continue }
                    let dy = (Double(courier.lat_deg) - lat_deg) * Earth.metresPerDegree
                    let dx = (Double(courier.lon_deg) - lon_deg) * Earth.metresPerDegree * cosLat
                    let d2 = dx * dx + dy * dy
                    if d2 < best2 || (!found && d2 == best2) { best2 = d2; found = true }
                }
            }
            while ring <= maxRing {
                // The ring's cells within the occupied box: its top and bottom rows whole,
                // and the two end cells of the rows between.
                let firstRow = max(centreY - ring, minY), lastRow = min(centreY + ring, maxY)
                let firstColumn = max(centreX - ring, minX), lastColumn = min(centreX + ring, maxX)
                if firstRow <= lastRow && firstColumn <= lastColumn {
                    for y in firstRow...lastRow {
                        if y == centreY - ring || y == centreY + ring {
                            for x in firstColumn...lastColumn { scan(y: y, x: x) }
                        } else {
                            if centreX - ring >= minX { scan(y: y, x: centreX - ring) }
                            if centreX + ring <= maxX { scan(y: y, x: centreX + ring) }
                        }
                    }
                }
                let reach = Double(ring) * edge_m
                if found && best2 <= reach * reach { break }
                // Past the occupied box on every side nothing is left to find.
                if centreY - ring <= minY && centreY + ring >= maxY && centreX - ring <= minX && centreX + ring >= maxX { break }
                ring += 1
            }
        }
        return found ? best2.squareRoot() : nil
    }

    private func cell(of courier: Courier) -> Int64 {
        Self.cell(lat_deg: courier.lat_deg, lon_deg: courier.lon_deg)
    }

    @inline(__always)
    private static func cell(lat_deg: Float, lon_deg: Float) -> Int64 {
        key(y: Int64((Double(lat_deg) / cell_deg).rounded(.down)), x: Int64((Double(lon_deg) / cell_deg).rounded(.down)))
    }

    @inline(__always)
    static func key(y: Int64, x: Int64) -> Int64 { y << 32 | (x & 0xFFFF_FFFF) }

    /// The row and column a cell key was made of.
    @inline(__always)
    static func coordinates(of key: Int64) -> (y: Int64, x: Int64) { (key >> 32, Int64(Int32(truncatingIfNeeded: key))) }

    private mutating func addToGrid(_ index: Int) {
        let key = cell(of: couriers[index])
        let (y, x) = Self.coordinates(of: key)
        minY = min(minY, y); maxY = max(maxY, y); minX = min(minX, x); maxX = max(maxX, x)
        let slot = cells.slot(for: key)
        let head = cells[slot]
        if head < 0 { occupied.insert(y: y, x: x, occupiedCells: cells) }
        couriers[index].previous = -1
        couriers[index].next = head
        if head >= 0 { couriers[Int(head)].previous = Int32(index) }
        cells[slot] = Int32(index)
        couriers[index].isInGrid = true
    }

    private mutating func removeFromGrid(_ index: Int) {
        let courier = couriers[index]
        if courier.previous >= 0 {
            couriers[Int(courier.previous)].next = courier.next
        } else {
            let key = cell(of: courier)
            cells[cells.slot(for: key)] = courier.next
            if courier.next < 0 {
                let (y, x) = Self.coordinates(of: key)
                occupied.remove(y: y, x: x)
            }
        }
        if courier.next >= 0 { couriers[Int(courier.next)].previous = courier.previous }
        couriers[index].isInGrid = false
    }
}

/// Grid cell → first courier in it: open addressing with a multiplicative hash (the
/// standard dictionary's SipHash costs more than the rest of a search). Cells are never
/// removed; a city touches a bounded number of them.
struct CellTable {
    private static let empty = Int64.min
    private var keys = [Int64](repeating: empty, count: 1_024)
    private var heads = [Int32](repeating: -1, count: 1_024)
    private var used = 0
    private var shift: UInt64 = 64 - 10

    @inline(__always)
    private func home(_ key: Int64) -> Int { Int(truncatingIfNeeded: (UInt64(bitPattern: key) &* 0x9E37_79B9_7F4A_7C15) >> shift) }

    /// The first courier in the cell, or -1.
    @inline(__always)
    func head(of key: Int64) -> Int32 {
        let mask = keys.count - 1
        var index = home(key)
        while true {
            let found = keys[index]
            if found == key { return heads[index] }
            if found == Self.empty { return -1 }
            index = (index + 1) & mask
        }
    }

    /// The cell's slot, added if new; `heads[slot]` is its first courier.
    mutating func slot(for key: Int64) -> Int {
        var index = home(key)
        while true {
            let found = keys[index]
            if found == key { return index }
            if found == Self.empty { break }
            index = (index + 1) & (keys.count - 1)
        }
        if 2 * (used + 1) > keys.count {
            grow()
            return slot(for: key)
        }
        keys[index] = key
        used += 1
        return index
    }

    subscript(slot: Int) -> Int32 {
        get { heads[slot] }
        set { heads[slot] = newValue }
    }

    /// Calls `body` with the key of every cell that holds a courier.
    func forEachOccupied(_ body: (Int64) -> Void) {
        for (key, head) in zip(keys, heads) where key != Self.empty && head >= 0 { body(key) }
    }

    private mutating func grow() {
        let oldKeys = keys
        let oldHeads = heads
        keys = [Int64](repeating: Self.empty, count: 2 * oldKeys.count)
        heads = [Int32](repeating: -1, count: 2 * oldKeys.count)
        shift -= 1
        used = 0
        for (key, head) in zip(oldKeys, oldHeads) where key != Self.empty {
            let slot = slot(for: key)
            heads[slot] = head
        }
    }
}

/// One bit per grid cell over a box around the occupied cells: set while the cell holds a
/// courier. A sparse city (10,000 couriers over Austin: most cells of a search ring
/// empty) otherwise pays a cell-table lookup, usually a cache miss, per empty cell. The
/// box grows with slack (rebuilt from the cell table, rarely); past `maxCells` the
/// bitmap switches itself off and every cell is looked up, as without it.
struct CellBitmap {
    static let maxCells = 1 << 24  // 2 MB of bits
    private var minY: Int64 = 0, minX: Int64 = 0
    private var height: Int64 = 0, width: Int64 = 0
    private var words: [UInt64] = []
    private var isOff = false

    /// False only when the cell surely holds no courier.
    @inline(__always)
    func mayHold(y: Int64, x: Int64) -> Bool {
        if isOff { return true }
        // Outside the box (or before the first courier): nothing there.
        guard let bit = bit(y: y, x: x) else { return false }
        return words.withUnsafeBufferPointer { $0[bit >> 6] & (1 << UInt64(bit & 63)) != 0 }
    }

    mutating func insert(y: Int64, x: Int64, occupiedCells cells: CellTable) {
        if isOff { return }
        if bit(y: y, x: x) == nil {
            grow(toInclude: y, x, cells)
            if isOff { return }
        }
        set(bit(y: y, x: x)!)
    }

    mutating func remove(y: Int64, x: Int64) {
        if isOff { return }
        guard let bit = bit(y: y, x: x) else { return }
        words[bit >> 6] &= ~(1 << UInt64(bit & 63))
    }

    /// The cell's bit, or nil outside the box.
    @inline(__always)
    private func bit(y: Int64, x: Int64) -> Int? {
        let row = y &- minY, column = x &- minX
        guard row >= 0, row < height, column >= 0, column < width else { return nil }
        return Int(row * width + column)
    }

    private mutating func set(_ bit: Int) {
        words[bit >> 6] |= 1 << UInt64(bit & 63)
    }

    private mutating func grow(toInclude y: Int64, _ x: Int64, _ cells: CellTable) {
        let empty = height == 0
        var south = empty ? y : min(minY, y), north = empty ? y : max(minY + height - 1, y)
        var west = empty ? x : min(minX, x), east = empty ? x : max(minX + width - 1, x)
        // Slack of a quarter of the span (at least 32 cells) on every side: growing is
        // rare once couriers have covered the city.
        let padY = max(32, (north - south) / 4), padX = max(32, (east - west) / 4)
        south -= padY; north += padY; west -= padX; east += padX
        let newHeight = north - south + 1, newWidth = east - west + 1
        guard newHeight <= Int64(Self.maxCells) / newWidth else {
            isOff = true
            words = []
            return
        }
        minY = south; minX = west; height = newHeight; width = newWidth
        words = [UInt64](repeating: 0, count: Int((height * width + 63) / 64))
        cells.forEachOccupied { key in
            let (y, x) = CourierIndex.coordinates(of: key)
            set(bit(y: y, x: x)!)
        }
    }
}
