@testable import AmoreCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The reader's doubles against glibc's `strtod` (correctly rounded), bit for bit, on the
/// shapes events carry and on the cases that break a careless fast path: 17-19 digit
/// mantissas, exact halfway points (ties to even), the edges of `DecimalToDouble`'s
/// exponent range and just outside it.
@Suite struct NumberParsingTests {
    private func readerValue(_ text: String) throws -> Double {
        var text = text
        return try text.withUTF8 { bytes in
            var reader = JSONReader(UnsafeRawBufferPointer(bytes))
            return try reader.readNumber().double
        }
    }

    /// The decoder's fast path for doubles: nil, with nothing consumed, when it leaves the
    /// number to `readNumber`.
    private func plainDecimalValue(_ text: String) -> Double? {
        var bytes = text
        return bytes.withUTF8 { bytes in
            var reader = JSONReader(UnsafeRawBufferPointer(bytes))
            let value = reader.readPlainDecimal()
            #expect(value == nil ? reader.index == 0 : reader.atEnd, "\(text): consumed \(reader.index) bytes")
            return value
        }
    }

    private func strtodValue(_ text: String) -> Double { strtod(text, nil) }

    /// Both the general reader and the fast path (where it takes the number).
    private func expectSameBits(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let got = try readerValue(text)
        let want = strtodValue(text)
        #expect(got.bitPattern == want.bitPattern, "\(text): \(got) vs strtod \(want)", sourceLocation: sourceLocation)
        if let plain = plainDecimalValue(text) {
            #expect(plain.bitPattern == want.bitPattern, "\(text): fast path \(plain) vs strtod \(want)", sourceLocation: sourceLocation)
        }
    }

    @Test func randomDecimalsMatchStrtodBitForBit() throws {
        var random = SplitMix64(seed: 11)
        for _ in 0..<300_000 {
            let digits = 1 + Int(random.next() % 19)
            var mantissa = ""
            for position in 0..<digits {
                let digit = position == 0 ? 1 + random.next() % 9 : random.next() % 10
                mantissa.append(Character(Unicode.Scalar(UInt8(48 + digit))))
            }
            let exponent = Int(random.next() % 71) - 35
            let negative = random.next() % 2 == 0 ? "-" : ""
            // The same value written three ways: point inside, exponent form, point and exponent.
            let point = Int(random.next() % UInt64(digits + 1))
            let split = mantissa.index(mantissa.startIndex, offsetBy: point)
            let whole = point == 0 ? "0" : String(mantissa[..<split])
            let fraction = point == digits ? "" : "." + mantissa[split...]
            try expectSameBits("\(negative)\(whole)\(fraction)")
            try expectSameBits("\(negative)\(mantissa)e\(exponent)")
            try expectSameBits("\(negative)\(whole)\(fraction)E\(exponent)")
        }
    }

    /// Coordinates as Swift prints random doubles (shortest round trip, 15-17 digits): the
    /// engine's hot case.
    @Test func printedRandomCoordinatesRoundTrip() throws {
        var random = SplitMix64(seed: 12)
        for _ in 0..<200_000 {
            let latitude = Double(random.next() % (1 << 53)) / Double(1 << 53) * 180 - 90
            let text = "\(latitude)"
            #expect(try readerValue(text).bitPattern == latitude.bitPattern, "\(text)")
            #expect(text.contains("e") || plainDecimalValue(text) != nil, "\(text) takes the fast path")
            try expectSameBits(text)
        }
    }

    /// Odd n in [2^53, 2^54) lies exactly halfway between two doubles, and so does
    /// n / 2^k written as (n * 5^k) * 10^-k: these must round to even, not up.
    @Test func exactHalfwayPointsRoundToEven() throws {
        var random = SplitMix64(seed: 13)
        for _ in 0..<20_000 {
            let n = (UInt64(1) << 53) | random.next() % (UInt64(1) << 53) | 1
            for k in 0...3 {
                var five: UInt64 = 1
                for _ in 0..<k { five *= 5 }
                try expectSameBits("\(n * five)e-\(k)")
            }
        }
        // Hand-checked: 2^53 + 1 ties to 2^53 (even), 2^53 + 3 to 2^53 + 4.
        #expect(try readerValue("9007199254740993") == 9_007_199_254_740_992)
        #expect(try readerValue("9007199254740995") == 9_007_199_254_740_996)
        #expect(try readerValue("4503599627370496.5") == 4_503_599_627_370_496)
        #expect(try readerValue("4503599627370497.5") == 4_503_599_627_370_498)
    }

    @Test func theFastPathTakesPlainDecimalsOnlyAndLeavesTheRestToTheGeneralReader() throws {
        for text in ["1.5e3", "1E2", "01.5", "-", "1.", ".5", "-.5", "+1", "12345678901234567890.5", "12345678901234567890",
                     "0.00000000000000000000000000001", "x"] {
            #expect(plainDecimalValue(text) == nil, "\(text)")
        }
        // Hand-checked values, the last two exact halfway points (ties to even).
        let expected: [(String, Double)] = [("0", 0), ("-0.5", -0.5), ("180", 180), ("359.99", 359.99),
                                            ("1234567890123456789", 1_234_567_890_123_456_768), ("0.0001234567890123456789", 0.0001234567890123456789),
                                            ("4503599627370496.5", 4_503_599_627_370_496), ("4503599627370497.5", 4_503_599_627_370_498)]
        for (text, value) in expected {
            #expect(plainDecimalValue(text) == value, "\(text)")
            try expectSameBits(text)
        }
    }

    @Test func exponentRangeEdgesAndBeyond() throws {
        for text in ["1e-27", "9999999999999999999e-27", "1e27", "9999999999999999999e27", "1e-28", "1e28",
                     "30.267153000000001", "-97.743060999999997", "0.1", "0.30000000000000004", "1.7976931348623157e308",
                     "2.2250738585072014e-308", "4.9e-324", "123456789012345678901234567890", "0.000000000000000000000000000001"] {
            try expectSameBits(text)
        }
        #expect(DecimalToDouble.value(mantissa: 1, exponent: -28) == nil)
        #expect(DecimalToDouble.value(mantissa: 1, exponent: 28) == nil)
        #expect(DecimalToDouble.value(mantissa: 0, exponent: 0) == nil)
        #expect(DecimalToDouble.value(mantissa: 1, exponent: -27) == 1e-27)
        #expect(DecimalToDouble.value(mantissa: UInt64.max, exponent: 27) == strtod("18446744073709551615e27", nil))
    }
}
