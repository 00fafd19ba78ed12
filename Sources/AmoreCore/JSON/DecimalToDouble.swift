/// Decimal to the correctly rounded `Double` without `strtod`, for the numbers events carry.
///
/// JSON coordinates often have 16-17 significant digits: too many for the exact
/// "mantissa < 2^53, one multiplication" path, and glibc's `strtod` then takes its
/// multi-precision path (~13 % of the engine's time per courier ping, measured). This is
/// the Eisel-Lemire algorithm (D. Lemire, "Number Parsing at a Gigabyte per Second",
/// Software: Practice and Experience 51(8), 2021), limited to decimal exponents in
/// -27...27: there the 128-bit values of 5^q below make the product exact enough that
/// no fallback case exists, and the table stays a switch of 55 literals. Outside that
/// range the caller falls back to `strtod`. Tested bit for bit against `strtod`.
enum DecimalToDouble {
    static let exponents = -27...27

    /// The double nearest to `mantissa` x 10^`q` (ties to even); nil when `q` is outside
    /// `exponents` or `mantissa` is 0.
    @inline(__always)
    static func value(mantissa: UInt64, exponent q: Int) -> Double? {
        guard mantissa != 0, exponents.contains(q) else { return nil }
        let leadingZeros = mantissa.leadingZeroBitCount
        let w = mantissa << UInt64(leadingZeros)
        let (powerHigh, powerLow) = powerOfFive(q)
        // The top 128 bits of w x 5^q, corrected with the table's low word only when the
        // bits below the 55 that decide the rounding are all ones.
        var (high, low) = w.multipliedFullWidth(by: powerHigh)
        if high & 0x1FF == 0x1FF {
            let carry = w.multipliedFullWidth(by: powerLow).high
            let (sum, overflow) = low.addingReportingOverflow(carry)
            low = sum
            if overflow { high &+= 1 }
        }
        let upperBit = Int(high >> 63)
        let shift = UInt64(upperBit + 64 - 52 - 3)
        var significand = high >> shift
        // floor(log2(10^q)) + 63, then the exponent bias (1023).
        var power2 = ((217_706 * q) >> 16) + 63 + upperBit - leadingZeros + 1023
        guard power2 > 0 else { return nil }  // subnormal: not reachable in this range
        // Exactly halfway between two doubles (nothing but zeros dropped): round to even.
        if low <= 1, (-4...23).contains(q), significand & 3 == 1, significand << shift == high {
            significand &= ~1
        }
        significand += significand & 1
        significand >>= 1
        if significand >= 2 << 52 {
            significand = 1 << 52
            power2 += 1
        }
        significand &= ~(1 << 52)
        guard power2 < 0x7FF else { return nil }  // infinite: not reachable in this range
        return Double(bitPattern: UInt64(power2) << 52 | significand)
    }

    /// 5^q as 128 bits (high, low) with the top bit set: truncated for q >= 0 (exact up to
    /// q = 27), rounded up for q < 0. Generated with Python's integers:
    /// `c = 5**q`, doubled into [2**127, 2**128), for q >= 0;
    /// `c = 2**(z + 127) // 5**-q + 1`, z the least with 2**z >= 5**-q, for q < 0.
    @inline(__always)
    private static func powerOfFive(_ q: Int) -> (UInt64, UInt64) {
        switch q {
        case -27: (0x9E74D1B791E07E48, 0x775EA264CF55347E)
        case -26: (0xC612062576589DDA, 0x95364AFE032A819E)
        case -25: (0xF79687AED3EEC551, 0x3A83DDBD83F52205)
        case -24: (0x9ABE14CD44753B52, 0xC4926A9672793543)
        case -23: (0xC16D9A0095928A27, 0x75B7053C0F178294)
        case -22: (0xF1C90080BAF72CB1, 0x5324C68B12DD6339)
        case -21: (0x971DA05074DA7BEE, 0xD3F6FC16EBCA5E04)
        case -20: (0xBCE5086492111AEA, 0x88F4BB1CA6BCF585)
        case -19: (0xEC1E4A7DB69561A5, 0x2B31E9E3D06C32E6)
        case -18: (0x9392EE8E921D5D07, 0x3AFF322E62439FD0)
        case -17: (0xB877AA3236A4B449, 0x09BEFEB9FAD487C3)
        case -16: (0xE69594BEC44DE15B, 0x4C2EBE687989A9B4)
        case -15: (0x901D7CF73AB0ACD9, 0x0F9D37014BF60A11)
        case -14: (0xB424DC35095CD80F, 0x538484C19EF38C95)
        case -13: (0xE12E13424BB40E13, 0x2865A5F206B06FBA)
        case -12: (0x8CBCCC096F5088CB, 0xF93F87B7442E45D4)
        case -11: (0xAFEBFF0BCB24AAFE, 0xF78F69A51539D749)
        case -10: (0xDBE6FECEBDEDD5BE, 0xB573440E5A884D1C)
        case -9: (0x89705F4136B4A597, 0x31680A88F8953031)
        case -8: (0xABCC77118461CEFC, 0xFDC20D2B36BA7C3E)
        case -7: (0xD6BF94D5E57A42BC, 0x3D32907604691B4D)
        case -6: (0x8637BD05AF6C69B5, 0xA63F9A49C2C1B110)
        case -5: (0xA7C5AC471B478423, 0x0FCF80DC33721D54)
        case -4: (0xD1B71758E219652B, 0xD3C36113404EA4A9)
        case -3: (0x83126E978D4FDF3B, 0x645A1CAC083126EA)
        case -2: (0xA3D70A3D70A3D70A, 0x3D70A3D70A3D70A4)
        case -1: (0xCCCCCCCCCCCCCCCC, 0xCCCCCCCCCCCCCCCD)
        case 0: (0x8000000000000000, 0x0000000000000000)
        case 1: (0xA000000000000000, 0x0000000000000000)
        case 2: (0xC800000000000000, 0x0000000000000000)
        case 3: (0xFA00000000000000, 0x0000000000000000)
        case 4: (0x9C40000000000000, 0x0000000000000000)
        case 5: (0xC350000000000000, 0x0000000000000000)
        case 6: (0xF424000000000000, 0x0000000000000000)
        case 7: (0x9896800000000000, 0x0000000000000000)
        case 8: (0xBEBC200000000000, 0x0000000000000000)
        case 9: (0xEE6B280000000000, 0x0000000000000000)
        case 10: (0x9502F90000000000, 0x0000000000000000)
        case 11: (0xBA43B74000000000, 0x0000000000000000)
        case 12: (0xE8D4A51000000000, 0x0000000000000000)
        case 13: (0x9184E72A00000000, 0x0000000000000000)
        case 14: (0xB5E620F480000000, 0x0000000000000000)
        case 15: (0xE35FA931A0000000, 0x0000000000000000)
        case 16: (0x8E1BC9BF04000000, 0x0000000000000000)
        case 17: (0xB1A2BC2EC5000000, 0x0000000000000000)
        case 18: (0xDE0B6B3A76400000, 0x0000000000000000)
        case 19: (0x8AC7230489E80000, 0x0000000000000000)
        case 20: (0xAD78EBC5AC620000, 0x0000000000000000)
        case 21: (0xD8D726B7177A8000, 0x0000000000000000)
        case 22: (0x878678326EAC9000, 0x0000000000000000)
        case 23: (0xA968163F0A57B400, 0x0000000000000000)
        case 24: (0xD3C21BCECCEDA100, 0x0000000000000000)
        case 25: (0x84595161401484A0, 0x0000000000000000)
        case 26: (0xA56FA5B99019A5C8, 0x0000000000000000)
        case 27: (0xCECB8F27F4200F3A, 0x0000000000000000)
        default: (0, 0)
        }
    }
}
