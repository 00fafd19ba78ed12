@testable import AmoreCore
import Testing

/// `IdentifierIndex` numbers identifiers by first sight and finds exactly those added,
/// checked against `Dictionary` over many growths, with ids that share long prefixes
/// (only their last word differs) and lengths from 1 to 64.
@Suite struct IdentifierIndexTests {
    @Test func numbersByFirstSightAndFindsExactlyWhatWasAdded() {
        var random = SplitMix64(seed: 21)
        var index = IdentifierIndex()
        var expected: [Identifier: Int32] = [:]
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-")
        func randomIdentifier() -> Identifier {
            if random.next() % 2 == 0 {
                return Identifier(validating: "courier-austin-downtown-\(random.next() % 60_000)")!
            }
            let length = 1 + Int(random.next() % 64)
            return Identifier(validating: String((0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }))!
        }
        for _ in 0..<100_000 {
            let identifier = randomIdentifier()
            let found = index.number(of: identifier)
            #expect(found == expected[identifier])
            if found == nil {
                let number = index.add(identifier)
                #expect(number == Int32(expected.count))
                expected[identifier] = number
            }
        }
        #expect(index.count == expected.count)
        for (identifier, number) in expected {
            #expect(index.number(of: identifier) == number)
            #expect(index[number] == identifier)
        }
        #expect(index.number(of: "never-added") == nil)
    }
}
