import AmoreCore
import Testing

@Suite struct IdentifierAndWriterTests {
    @Test func identifiersAcceptOnlyTheirAlphabetUpTo64Characters() {
        #expect(Identifier(validating: "austin-courier_1.2:3") != nil)
        #expect(Identifier(validating: String(repeating: "a", count: 64)) != nil)
        #expect(Identifier(validating: String(repeating: "a", count: 65)) == nil)
        #expect(Identifier(validating: "") == nil)
        for bad in ["a b", "a/b", "café", "a\"", "a\\b", "a\u{0}"] {
            #expect(Identifier(validating: bad) == nil, "\(bad)")
        }
    }

    /// Every byte value at every position of a 9-byte identifier (both sides of the
    /// 8-byte word boundary) against the alphabet spelled out.
    @Test func everyByteIsJudgedAsTheAlphabetSays() {
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-".utf8)
        for position in 0..<9 {
            for byte in 0...255 {
                var bytes = Array("abcdefghi".utf8)
                bytes[position] = UInt8(byte)
                let accepted = bytes.withUnsafeBytes { Identifier(bytes: $0) } != nil
                #expect(accepted == alphabet.contains(UInt8(byte)), "byte \(byte) at \(position)")
            }
        }
    }

    @Test func identifiersCompareByValue() {
        let a: Identifier = "r-1"
        #expect(a == Identifier(validating: "r-1"))
        #expect(a != Identifier(validating: "r-10"), "a prefix is a different identifier")
        #expect(Set<Identifier>(["r-1", "r-1", "r-2"]).count == 2)
        #expect(a.description == "r-1")
        #expect(Identifier(validating: "r-1")! < Identifier(validating: "r-2")!)
    }

    /// RFC 4648 section 10 test vectors.
    @Test(arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
                      ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")])
    func base64MatchesRFC4648(input: String, expected: String) {
        var writer = JSONWriter()
        Array(input.utf8).withUnsafeBytes { writer.base64($0) }
        #expect(String(decoding: writer.bytes, as: UTF8.self) == "\"\(expected)\"")
    }

    @Test func writerEscapesTextAndSeparatesMembers() {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("name"); writer.value("Tony's \"Pizza\"\\\n\u{1}")
        writer.key("n"); writer.value(-1_764_000_000_000 as Int64)
        writer.key("list"); writer.beginArray(); writer.value(true); writer.value(0.5); writer.null(); writer.endArray()
        writer.endObject()
        #expect(String(decoding: writer.bytes, as: UTF8.self)
                == #"{"name":"Tony's \"Pizza\"\\\n\u0001","n":-1764000000000,"list":[true,0.5,null]}"#.replacingOccurrences(of: "\\n\\u0001", with: "\\u000a\\u0001"))
    }
}
