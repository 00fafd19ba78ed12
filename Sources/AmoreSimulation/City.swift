import AmoreCore

/// A market's geography: its real bounding box, its local time, and the neighbourhoods
/// where restaurants, couriers and demand cluster.
public struct City: Sendable {
    public struct Bounds: Sendable {
        public var latMin_deg: Double
        public var latMax_deg: Double
        public var lonMin_deg: Double
        public var lonMax_deg: Double

        public init(latMin_deg: Double, latMax_deg: Double, lonMin_deg: Double, lonMax_deg: Double) {
            self.latMin_deg = latMin_deg
            self.latMax_deg = latMax_deg
            self.lonMin_deg = lonMin_deg
            self.lonMax_deg = lonMax_deg
        }

        public func contains(lat_deg: Double, lon_deg: Double) -> Bool {
            (latMin_deg...latMax_deg).contains(lat_deg) && (lonMin_deg...lonMax_deg).contains(lon_deg)
        }
    }

    public struct Neighbourhood: Sendable {
        public var name: String
        public var lat_deg: Double
        public var lon_deg: Double
        /// About one standard deviation of the cluster.
        public var spread_m: Double
        /// Relative share of restaurants and orders.
        public var weight: Double

        public init(_ name: String, lat_deg: Double, lon_deg: Double, spread_m: Double, weight: Double) {
            self.name = name
            self.lat_deg = lat_deg
            self.lon_deg = lon_deg
            self.spread_m = spread_m
            self.weight = weight
        }
    }

    public var marketID: Identifier
    public var name: String
    public var bounds: Bounds
    /// Standard time's offset from UTC, for the daily demand curve.
    public var utcOffset_h: Double
    /// The first is downtown, where `amore demo` watches.
    public var neighbourhoods: [Neighbourhood]
    /// Share of restaurants scattered over the whole bounding box rather than in a neighbourhood.
    public var suburbanShare = 0.2

    public init(marketID: Identifier, name: String, bounds: Bounds, utcOffset_h: Double, neighbourhoods: [Neighbourhood]) {
        precondition(!neighbourhoods.isEmpty, "a city needs a downtown")
        self.marketID = marketID
        self.name = name
        self.bounds = bounds
        self.utcOffset_h = utcOffset_h
        self.neighbourhoods = neighbourhoods
    }

    public var downtown: Neighbourhood { neighbourhoods[0] }

    /// Texas markets, Austin first: `--markets N` takes the first N.
    public static let catalogue: [City] = [.austin, .houston, .dallas, .sanAntonio, .fortWorth]

    public static let austin = City(
        marketID: "austin", name: "Austin",
        bounds: Bounds(latMin_deg: 30.0986, latMax_deg: 30.5168, lonMin_deg: -97.9384, lonMax_deg: -97.5614),
        utcOffset_h: -6,
        neighbourhoods: [
            Neighbourhood("Downtown", lat_deg: 30.2672, lon_deg: -97.7431, spread_m: 1_000, weight: 3),
            Neighbourhood("South Congress", lat_deg: 30.2460, lon_deg: -97.7500, spread_m: 1_200, weight: 2),
            Neighbourhood("East Austin", lat_deg: 30.2630, lon_deg: -97.7180, spread_m: 1_300, weight: 2),
            Neighbourhood("Hyde Park / UT", lat_deg: 30.2950, lon_deg: -97.7380, spread_m: 1_400, weight: 2),
            Neighbourhood("Zilker / South Lamar", lat_deg: 30.2550, lon_deg: -97.7700, spread_m: 1_300, weight: 1),
            Neighbourhood("Mueller", lat_deg: 30.2990, lon_deg: -97.7050, spread_m: 1_000, weight: 1),
            Neighbourhood("The Domain", lat_deg: 30.4020, lon_deg: -97.7250, spread_m: 1_600, weight: 1.5),
        ])

    public static let houston = City(
        marketID: "houston", name: "Houston",
        bounds: Bounds(latMin_deg: 29.5230, latMax_deg: 30.1105, lonMin_deg: -95.7880, lonMax_deg: -95.0146),
        utcOffset_h: -6,
        neighbourhoods: [
            Neighbourhood("Downtown", lat_deg: 29.7604, lon_deg: -95.3698, spread_m: 1_000, weight: 3),
            Neighbourhood("Midtown", lat_deg: 29.7400, lon_deg: -95.3770, spread_m: 1_200, weight: 2),
            Neighbourhood("Montrose", lat_deg: 29.7460, lon_deg: -95.3900, spread_m: 1_300, weight: 2),
            Neighbourhood("The Heights", lat_deg: 29.7980, lon_deg: -95.3980, spread_m: 1_500, weight: 2),
            Neighbourhood("Galleria", lat_deg: 29.7390, lon_deg: -95.4630, spread_m: 1_500, weight: 1.5),
        ])

    public static let dallas = City(
        marketID: "dallas", name: "Dallas",
        bounds: Bounds(latMin_deg: 32.6180, latMax_deg: 33.0237, lonMin_deg: -96.9990, lonMax_deg: -96.4637),
        utcOffset_h: -6,
        neighbourhoods: [
            Neighbourhood("Downtown", lat_deg: 32.7767, lon_deg: -96.7970, spread_m: 1_000, weight: 3),
            Neighbourhood("Uptown", lat_deg: 32.8000, lon_deg: -96.8010, spread_m: 1_200, weight: 2),
            Neighbourhood("Deep Ellum", lat_deg: 32.7840, lon_deg: -96.7830, spread_m: 900, weight: 1.5),
            Neighbourhood("Bishop Arts", lat_deg: 32.7480, lon_deg: -96.8280, spread_m: 1_000, weight: 1),
        ])

    public static let sanAntonio = City(
        marketID: "san_antonio", name: "San Antonio",
        bounds: Bounds(latMin_deg: 29.2241, latMax_deg: 29.7333, lonMin_deg: -98.8113, lonMax_deg: -98.2225),
        utcOffset_h: -6,
        neighbourhoods: [
            Neighbourhood("Downtown", lat_deg: 29.4241, lon_deg: -98.4936, spread_m: 1_000, weight: 3),
            Neighbourhood("Pearl", lat_deg: 29.4420, lon_deg: -98.4800, spread_m: 900, weight: 1.5),
            Neighbourhood("Southtown", lat_deg: 29.4100, lon_deg: -98.4950, spread_m: 1_000, weight: 1.5),
            Neighbourhood("Alamo Heights", lat_deg: 29.4850, lon_deg: -98.4650, spread_m: 1_300, weight: 1),
        ])

    public static let fortWorth = City(
        marketID: "fort_worth", name: "Fort Worth",
        bounds: Bounds(latMin_deg: 32.5500, latMax_deg: 33.0500, lonMin_deg: -97.5500, lonMax_deg: -97.0300),
        utcOffset_h: -6,
        neighbourhoods: [
            Neighbourhood("Downtown", lat_deg: 32.7555, lon_deg: -97.3308, spread_m: 1_000, weight: 3),
            Neighbourhood("Near Southside", lat_deg: 32.7330, lon_deg: -97.3280, spread_m: 1_000, weight: 1.5),
            Neighbourhood("Cultural District", lat_deg: 32.7480, lon_deg: -97.3650, spread_m: 1_100, weight: 1),
        ])
}
