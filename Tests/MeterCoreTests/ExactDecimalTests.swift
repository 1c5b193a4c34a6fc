import Foundation
import MeterCore
import MeterTestSupport
import XCTest

/// The draws of the randomized decimal cross-checks (fixed seeds per test, so reproducible).
private extension SplitMix64 {
    /// A signed value with a random bit width, so small, medium and huge magnitudes all show up.
    mutating func nextInt128(maximumBitWidth: Int = 128) -> Int128 {
        let bitWidth = Int.random(in: 0...maximumBitWidth, using: &self)
        let raw = UInt128(next()) << 64 | UInt128(next())
        let magnitude = bitWidth == 0 ? 0 : raw >> (128 - bitWidth)
        let signed = Int128(truncatingIfNeeded: magnitude)
        return Bool.random(using: &self) ? signed : 0 &- signed
    }
}

/// Slow, obviously-correct reference arithmetic on decimal digit strings (independent of the
/// implementation under test: only the stdlib integer description and parser are used).
private enum SlowDecimal {
    /// Most-significant-first digits of a magnitude.
    static func digits(of magnitude: UInt128) -> [Int] {
        String(magnitude).map { Int($0.asciiValue! - 48) }
    }

    /// Converts a sign and most-significant-first digits to Int128, or nil if it does not fit.
    static func integer(negative: Bool, digits: [Int]) -> Int128? {
        let text = String(digits.drop { $0 == 0 }.map { Character(String($0)) })
        return Int128((negative ? "-" : "") + (text.isEmpty ? "0" : text))
    }

    /// Adds one to a most-significant-first digit string.
    static func incremented(_ digits: [Int]) -> [Int] {
        var result = digits
        var index = result.count - 1
        while index >= 0 {
            if result[index] < 9 {
                result[index] += 1
                return result
            }
            result[index] = 0
            index -= 1
        }
        return [1] + result
    }

    /// Schoolbook product of two most-significant-first digit strings.
    static func product(_ left: [Int], _ right: [Int]) -> [Int] {
        var result = [Int](repeating: 0, count: left.count + right.count)
        for (leftIndex, leftDigit) in left.reversed().enumerated() {
            for (rightIndex, rightDigit) in right.reversed().enumerated() {
                result[leftIndex + rightIndex] += leftDigit * rightDigit
            }
        }
        for index in 0..<(result.count - 1) {
            result[index + 1] += result[index] / 10
            result[index] %= 10
        }
        return result.reversed()
    }

    /// Rounds half-to-even given quotient digits and a comparison of the remainder with one half.
    static func roundedHalfEven(_ quotient: [Int], remainderVersusHalf: Int) -> [Int] {
        let isOdd = (quotient.last ?? 0) % 2 == 1
        return remainderVersusHalf > 0 || (remainderVersusHalf == 0 && isOdd) ? incremented(quotient) : quotient
    }

    /// Exact units of `left × right` rounded half-even at 9 fractional digits, nil on overflow.
    static func multiply(_ left: Int128, _ right: Int128) -> Int128? {
        let full = product(digits(of: left.magnitude), digits(of: right.magnitude))
        let padded = [Int](repeating: 0, count: max(0, 10 - full.count)) + full
        let quotient = Array(padded.dropLast(9))
        let remainder = padded.suffix(9).reduce(0) { $0 * 10 + $1 }
        let comparison = remainder == 500_000_000 ? 0 : (remainder > 500_000_000 ? 1 : -1)
        return integer(negative: (left < 0) != (right < 0), digits: roundedHalfEven(quotient, remainderVersusHalf: comparison))
    }

    /// Units of `units ÷ divisor` rounded half-even, by digit-at-a-time long division.
    static func divide(_ units: Int128, by divisor: Int64) -> Int128 {
        var quotient: [Int] = []
        var remainder: UInt128 = 0
        for digit in digits(of: units.magnitude) {
            remainder = remainder * 10 + UInt128(digit)
            quotient.append(Int(remainder / UInt128(divisor)))
            remainder %= UInt128(divisor)
        }
        let twice = remainder * 2
        let comparison = twice == UInt128(divisor) ? 0 : (twice > UInt128(divisor) ? 1 : -1)
        return integer(negative: units < 0, digits: roundedHalfEven(quotient, remainderVersusHalf: comparison))!
    }

    /// Canonical text built from the stdlib integer description by inserting the point.
    static func description(units: Int128) -> String {
        var text = String(units.magnitude)
        if text.count < 10 { text = String(repeating: "0", count: 10 - text.count) + text }
        text.insert(".", at: text.index(text.endIndex, offsetBy: -9))
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return (units < 0 ? "-" : "") + text
    }
}

final class ExactDecimalTests: XCTestCase {
    /// Parses through all three entry points (String, Substring slice, raw UTF-8) and checks they agree.
    private func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> Result<ExactDecimal, ExactDecimalError> {
        let viaString = Result { () throws(ExactDecimalError) in try ExactDecimal(parsing: text) }
        let wrapped = "x" + text + "y"
        let slice = wrapped.dropFirst().dropLast()
        let viaSubstring = Result { () throws(ExactDecimalError) in try ExactDecimal(parsing: slice) }
        var copy = text
        let viaBytes = copy.withUTF8 { bytes in
            Result { () throws(ExactDecimalError) in try ExactDecimal(parsingUTF8: bytes) }
        }
        XCTAssertEqual(viaString, viaSubstring, "String vs Substring for \(text.prefix(60))", file: file, line: line)
        XCTAssertEqual(viaString, viaBytes, "String vs UTF-8 bytes for \(text.prefix(60))", file: file, line: line)
        return viaString
    }

    private func parsedUnits(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> Int128? {
        switch parse(text, file: file, line: line) {
        case .success(let value): return value.units
        case .failure(let error):
            XCTFail("\(text.prefix(60)) failed: \(error)", file: file, line: line)
            return nil
        }
    }

    func testConstantsAndInitializers() {
        XCTAssertEqual(ExactDecimal.scale, 9)
        XCTAssertEqual(ExactDecimal.unitsPerOne, Int128("1" + String(repeating: "0", count: ExactDecimal.scale)))
        XCTAssertEqual(ExactDecimal.maximumInputMagnitudeUnits, Int128("1" + String(repeating: "0", count: 29)))
        XCTAssertEqual(ExactDecimal.zero.units, 0)
        XCTAssertTrue(ExactDecimal.zero.isZero)
        XCTAssertFalse(ExactDecimal.zero.isNegative)
        for integer in [Int64.min, -1, 0, 7, Int64.max] {
            XCTAssertEqual(ExactDecimal(integer).units, Int128(integer) * 1_000_000_000)
            XCTAssertEqual(ExactDecimal(integer).description, String(integer))
            XCTAssertEqual(ExactDecimal(integer).isNegative, integer < 0)
        }
    }

    func testCanonicalFormatting() {
        let expectations: [(String, String)] = [
            ("0", "0"), ("-0", "0"), ("+0.000", "0"), ("007", "7"), ("12", "12"), ("-0.5", "-0.5"),
            ("+0.50", "0.5"), (".5", "0.5"), ("1.", "1"), ("-.25", "-0.25"), ("1.5000000000000", "1.5"),
            ("1e3", "1000"), ("2.5E-3", "0.0025"), ("1E+2", "100"), ("123.456e1", "1234.56"),
            ("1234.000000001", "1234.000000001"), ("0.000000001", "0.000000001"), ("-0.001", "-0.001"),
            ("99999999999999999999.999999999", "99999999999999999999.999999999"),
            ("-99999999999999999999.999999999", "-99999999999999999999.999999999"),
            ("1.e1", "10"), ("0e999999999", "0"), ("25.5", "25.5"), ("20e-10", "0.000000002"),
        ]
        for (input, canonical) in expectations {
            guard let units = parsedUnits(input) else { continue }
            XCTAssertEqual(ExactDecimal(units: units).description, canonical, input)
            XCTAssertEqual(SlowDecimal.description(units: units), canonical, input)
        }
    }

    func testDescriptionMatchesReferenceAcrossFullRange() {
        var generator = SplitMix64(seed: 1)
        var samples: [Int128] = [0, 1, -1, Int128.max, Int128.min, 999_999_999, 1_000_000_000, -1_000_000_001]
        for _ in 0..<20_000 { samples.append(generator.nextInt128()) }
        for units in samples {
            let text = ExactDecimal(units: units).description
            XCTAssertEqual(text, SlowDecimal.description(units: units))
            if units.magnitude < ExactDecimal.maximumInputMagnitudeUnits.magnitude {
                XCTAssertEqual(try ExactDecimal(parsing: text).units, units, "round trip \(text)")
            } else {
                XCTAssertEqual(parse(text), .failure(.outOfRange), text)
            }
        }
    }

    /// Re-spells random in-range values with leading zeros, trailing zeros, signs, points and exponents.
    func testParsingAlternativeSpellingsRoundTrips() {
        var generator = SplitMix64(seed: 2)
        for _ in 0..<20_000 {
            let units = generator.nextInt128(maximumBitWidth: 97) % ExactDecimal.maximumInputMagnitudeUnits
            let leadingZeros = Int.random(in: 0...12, using: &generator)
            let trailingZeros = Int.random(in: 0...12, using: &generator)
            // As an integer, `digits` is |units| × 10^trailingZeros.
            let digits = String(repeating: "0", count: leadingZeros) + String(units.magnitude)
                + String(repeating: "0", count: trailingZeros)
            let pointOffsetFromEnd = Int.random(in: 0...digits.count, using: &generator)
            var body = digits
            body.insert(".", at: body.index(body.endIndex, offsetBy: -pointOffsetFromEnd))
            // body = |units| × 10^(trailingZeros - pointOffsetFromEnd); the value must be |units| × 10^-9.
            let exponent = pointOffsetFromEnd - trailingZeros - ExactDecimal.scale
            var exponentText = ""
            if exponent != 0 || Bool.random(using: &generator) {
                exponentText = (Bool.random(using: &generator) ? "E" : "e")
                    + (exponent >= 0 && Bool.random(using: &generator) ? "+" : "") + String(exponent)
            }
            let sign = units < 0 ? "-" : (Bool.random(using: &generator) ? "+" : "")
            let text = sign + body + exponentText
            XCTAssertEqual(parsedUnits(text), units, text)
        }
    }

    /// Random well-formed texts checked against Foundation.Decimal, which is exact for <= 38 digits.
    func testParsingMatchesFoundationDecimal() {
        var generator = SplitMix64(seed: 3)
        let limit = Decimal(string: "1e20")!
        let unitScale = Decimal(sign: .plus, exponent: 9, significand: 1)
        var outcomes: [String: Int] = [:]
        for _ in 0..<20_000 {
            let integerDigitCount = Int.random(in: 0...24, using: &generator)
            let fractionDigitCount = Int.random(in: (integerDigitCount == 0 ? 1 : 0)...14, using: &generator)
            func randomDigits(_ count: Int) -> String {
                String((0..<count).map { _ in
                    // Bias towards zeros so leading/trailing zero handling is exercised.
                    Bool.random(using: &generator) ? "0" : Character(String(Int.random(in: 0...9, using: &generator)))
                })
            }
            var text = (Bool.random(using: &generator) ? "-" : "") + randomDigits(integerDigitCount)
            if fractionDigitCount > 0 { text += "." + randomDigits(fractionDigitCount) }
            if Bool.random(using: &generator) { text += "e" + String(Int.random(in: -15...15, using: &generator)) }
            let reference = Decimal(string: text)!
            let expected: Result<Int128, ExactDecimalError>
            if abs(reference) >= limit {
                expected = .failure(.outOfRange)
            } else {
                var scaled = reference * unitScale
                var rounded = Decimal()
                NSDecimalRound(&rounded, &scaled, 0, .plain)
                expected = rounded == scaled ? .success(Int128("\(rounded)")!) : .failure(.tooManyFractionDigits)
            }
            let actual = parse(text).map(\.units)
            XCTAssertEqual(actual, expected, text)
            outcomes[(try? expected.get()) == nil ? String(describing: expected) : "success", default: 0] += 1
        }
        // Make sure the generator actually covers all three outcomes.
        XCTAssertEqual(outcomes.count, 3, "\(outcomes)")
    }

    func testEveryErrorCase() {
        let expectations: [(String, ExactDecimalError)] = [
            ("", .empty),
            (" 1", .invalidCharacter(position: 0)), ("1 ", .invalidCharacter(position: 1)),
            ("inf", .invalidCharacter(position: 0)), ("-inf", .invalidCharacter(position: 1)),
            ("nan", .invalidCharacter(position: 0)), ("NaN", .invalidCharacter(position: 0)),
            ("0x1F", .invalidCharacter(position: 1)), ("1,5", .invalidCharacter(position: 1)),
            ("1_000", .invalidCharacter(position: 1)), ("\u{0661}", .invalidCharacter(position: 0)),
            ("1\u{0}", .invalidCharacter(position: 1)), ("1.5x", .invalidCharacter(position: 3)),
            ("1e5x", .invalidCharacter(position: 3)), ("1e-x", .invalidCharacter(position: 3)),
            ("é1", .invalidCharacter(position: 0)), ("1é", .invalidCharacter(position: 1)),
            (".", .malformed), ("-", .malformed), ("+", .malformed), ("-.", .malformed),
            ("e5", .malformed), (".e1", .malformed), ("1e", .malformed), ("1e+", .malformed),
            ("1E-", .malformed), ("1.2.3", .malformed), ("--1", .malformed), ("+-1", .malformed),
            ("1-", .malformed), ("1+", .malformed), ("1e5e5", .malformed), ("1e1.5", .malformed),
            ("1ee5", .malformed), ("1..", .malformed),
            ("1e-10", .tooManyFractionDigits), ("0.0000000001", .tooManyFractionDigits),
            ("0.1234567891", .tooManyFractionDigits), ("-1.0000000005", .tooManyFractionDigits),
            ("1e-999999999", .tooManyFractionDigits), ("123456789e-18", .tooManyFractionDigits),
            ("100000000000000000000", .outOfRange), ("-100000000000000000000.0", .outOfRange),
            ("1e20", .outOfRange), ("-1E20", .outOfRange), ("1e999999999", .outOfRange),
            ("100000000000000000000.0000000001", .outOfRange),  // both too big and too precise
            ("12345678901234567890123456789012345", .outOfRange),
            ("0.00000000000000000000000000000001e52", .outOfRange),
        ]
        for (input, error) in expectations {
            XCTAssertEqual(parse(input), .failure(error), input.debugDescription)
            XCTAssertFalse(error.description.isEmpty)
        }
        XCTAssertEqual(ExactDecimalError.tooManyFractionDigits.description, "decimal has more than 9 fractional digits")
        XCTAssertTrue(ExactDecimalError.invalidCharacter(position: 17).description.contains("17"))
        let messages = Set([ExactDecimalError.empty, .invalidCharacter(position: 0), .malformed,
                            .tooManyFractionDigits, .outOfRange, .overflow].map(\.description))
        XCTAssertEqual(messages.count, 6, "every error has its own message")
    }

    func testExponentHandling() {
        XCTAssertEqual(parsedUnits("1e3"), 1000 * ExactDecimal.unitsPerOne)
        XCTAssertEqual(parsedUnits("2.5E-3"), 2_500_000)
        XCTAssertEqual(parsedUnits("1e-9"), 1)
        XCTAssertEqual(parsedUnits("-1e-9"), -1)
        XCTAssertEqual(parsedUnits("1e19"), Int128("1" + String(repeating: "0", count: 28)))
        XCTAssertEqual(parsedUnits("9.9999999999999999999999999999e19"), ExactDecimal.maximumInputMagnitudeUnits - 1)
        XCTAssertEqual(parsedUnits("0.00000000000000000000000000000001e32"), ExactDecimal.unitsPerOne)
        XCTAssertEqual(parsedUnits("100000000000000000000000e-23"), ExactDecimal.unitsPerOne)
        XCTAssertEqual(parsedUnits("1e00000000000000000000000000000000000000000000000000003"), 1000 * ExactDecimal.unitsPerOne)
        XCTAssertEqual(parsedUnits("0e-999999999999999999999999999999"), 0)
        // Every power of ten in and around the accepted window, against a computed expectation.
        for power in -12...22 {
            for text in ["1e\(power)", "-1E\(power)", "10e\(power - 1)", "0.1e\(power + 1)"] {
                let expected: Result<Int128, ExactDecimalError>
                if power >= 20 {
                    expected = .failure(.outOfRange)
                } else if power < -9 {
                    expected = .failure(.tooManyFractionDigits)
                } else {
                    let magnitude = Int128("1" + String(repeating: "0", count: power + 9))!
                    expected = .success(text.hasPrefix("-") ? -magnitude : magnitude)
                }
                XCTAssertEqual(parse(text).map(\.units), expected, text)
            }
        }
    }

    func testHugeInputsAndExponentsFinishQuickly() {
        let nines = String(repeating: "9", count: 200_000)
        XCTAssertEqual(parse("1e" + nines), .failure(.outOfRange))
        XCTAssertEqual(parse("1e-" + nines), .failure(.tooManyFractionDigits))
        XCTAssertEqual(parsedUnits("0.0e" + nines), 0)
        XCTAssertEqual(parse(nines), .failure(.outOfRange))
        XCTAssertEqual(parse("0." + nines), .failure(.tooManyFractionDigits))
        let zeros = String(repeating: "0", count: 1_000_000)
        XCTAssertEqual(parsedUnits(zeros + "1"), ExactDecimal.unitsPerOne)
        XCTAssertEqual(parsedUnits("1." + zeros), ExactDecimal.unitsPerOne)
        XCTAssertEqual(parsedUnits("1" + zeros + "e-1000000"), ExactDecimal.unitsPerOne)
        XCTAssertEqual(parsedUnits("0." + zeros + "1e1000001"), ExactDecimal.unitsPerOne)
        XCTAssertEqual(parse("1" + zeros), .failure(.outOfRange))
        XCTAssertEqual(parse("0." + zeros + "1"), .failure(.tooManyFractionDigits))
        XCTAssertEqual(parse(zeros + "x"), .failure(.invalidCharacter(position: zeros.utf8.count)))
    }

    func testAddingPointOneTenMillionTimesIsExact() throws {
        let tenth = try ExactDecimal(parsing: "0.1")
        var total = ExactDecimal.zero
        for _ in 0..<10_000_000 {
            total = try total.adding(tenth)
        }
        XCTAssertEqual(total, ExactDecimal(1_000_000))
        XCTAssertEqual(total.description, "1000000")
    }

    func testAdditionAndSubtractionOverflow() throws {
        let largest = ExactDecimal(units: .max)
        let smallest = ExactDecimal(units: .min)
        let tiny = ExactDecimal(units: 1)
        XCTAssertThrowsError(try largest.adding(tiny)) { XCTAssertEqual($0 as? ExactDecimalError, .overflow) }
        XCTAssertThrowsError(try smallest.subtracting(tiny)) { XCTAssertEqual($0 as? ExactDecimalError, .overflow) }
        XCTAssertThrowsError(try smallest.adding(ExactDecimal(units: -1))) { XCTAssertEqual($0 as? ExactDecimalError, .overflow) }
        XCTAssertThrowsError(try ExactDecimal.zero.subtracting(smallest)) { XCTAssertEqual($0 as? ExactDecimalError, .overflow) }
        XCTAssertEqual(try largest.adding(smallest).units, -1)
        XCTAssertEqual(try ExactDecimal(units: -1).subtracting(largest), smallest)
        XCTAssertEqual(try largest.subtracting(tiny).adding(tiny), largest)
        var generator = SplitMix64(seed: 4)
        for _ in 0..<20_000 {
            let left = generator.nextInt128(), right = generator.nextInt128()
            let adding = Result { () throws(ExactDecimalError) in try ExactDecimal(units: left).adding(ExactDecimal(units: right)).units }
            let subtracting = Result { () throws(ExactDecimalError) in try ExactDecimal(units: left).subtracting(ExactDecimal(units: right)).units }
            XCTAssertEqual(adding, wideSum(left, right))
            if right != .min {
                XCTAssertEqual(subtracting, wideSum(left, -right))
            } else {
                XCTAssertEqual(subtracting, left >= 0 ? .failure(.overflow) : .success(left &- right))
            }
        }
    }

    /// Exact sum computed in 256-bit two's complement (sign-extended halves), then range-checked.
    private func wideSum(_ left: Int128, _ right: Int128) -> Result<Int128, ExactDecimalError> {
        let leftHigh: UInt128 = left < 0 ? .max : 0, rightHigh: UInt128 = right < 0 ? .max : 0
        let low = UInt128(truncatingIfNeeded: left).addingReportingOverflow(UInt128(truncatingIfNeeded: right))
        let high = leftHigh &+ rightHigh &+ (low.overflow ? 1 : 0)
        let fits = high == (low.partialValue >> 127 == 1 ? .max : 0)
        return fits ? .success(Int128(truncatingIfNeeded: low.partialValue)) : .failure(.overflow)
    }

    func testMultiplicationMatchesSlowReference() {
        var generator = SplitMix64(seed: 5)
        let specials: [Int128] = [0, 1, -1, 500_000_000, -500_000_000, 1_000_000_000, -1_000_000_000,
                                  1_500_000_000, .max, .min, .max - 1, .min + 1]
        var overflowCount = 0, roundedCount = 0
        for iteration in 0..<30_000 {
            let left = iteration % 10 == 0 ? specials.randomElement(using: &generator)! : generator.nextInt128()
            let right = iteration % 7 == 0 ? specials.randomElement(using: &generator)! : generator.nextInt128()
            let actual = Result { () throws(ExactDecimalError) in try ExactDecimal(units: left).multiplied(by: ExactDecimal(units: right)).units }
            let expected = SlowDecimal.multiply(left, right)
            XCTAssertEqual(actual, expected.map { .success($0) } ?? .failure(.overflow), "\(left) × \(right)")
            if expected == nil { overflowCount += 1 } else if (left.multipliedReportingOverflow(by: right).partialValue % 1_000_000_000) != 0 { roundedCount += 1 }
        }
        XCTAssertGreaterThan(overflowCount, 1000)
        XCTAssertGreaterThan(roundedCount, 1000)
    }

    func testMultiplicationRoundsHalfToEvenSymmetrically() throws {
        let half = ExactDecimal(units: 500_000_000)
        // k units × 0.5 is exactly k/2 units: ties for every odd k.
        for k in Int128(-41)...41 {
            let product = try ExactDecimal(units: k).multiplied(by: half)
            let lower = k >= 0 ? k / 2 : (k - 1) / 2  // floor(k / 2)
            let expected = k % 2 == 0 ? k / 2 : (lower % 2 == 0 ? lower : lower + 1)
            XCTAssertEqual(product.units, expected, "\(k) units × 0.5")
            XCTAssertEqual(try ExactDecimal(units: -k).multiplied(by: half).units, -product.units, "symmetry for \(k)")
            XCTAssertEqual(try half.multiplied(by: ExactDecimal(units: k)), product, "commutativity for \(k)")
        }
        XCTAssertEqual(try ExactDecimal(parsing: "0.000000001").multiplied(by: half), .zero)
        XCTAssertEqual(try ExactDecimal(parsing: "0.000000003").multiplied(by: half).description, "0.000000002")
        XCTAssertEqual(try ExactDecimal(parsing: "-0.000000003").multiplied(by: half).description, "-0.000000002")
        XCTAssertEqual(try ExactDecimal(parsing: "-0.000000005").multiplied(by: half).description, "-0.000000002")
        XCTAssertEqual(try ExactDecimal(parsing: "-0.000000001").multiplied(by: try ExactDecimal(parsing: "0.500000001")).description, "-0.000000001")
        XCTAssertEqual(try ExactDecimal(parsing: "25.5").multiplied(by: ExactDecimal(4)).description, "102")
        XCTAssertEqual(try ExactDecimal(parsing: "1.000000001").multiplied(by: try ExactDecimal(parsing: "1.000000001")).description, "1.000000002")
    }

    func testMultiplicationOverflowNearLimits() throws {
        let one = ExactDecimal(1)
        let largest = ExactDecimal(units: .max), smallest = ExactDecimal(units: .min)
        XCTAssertEqual(try largest.multiplied(by: one), largest)
        XCTAssertEqual(try smallest.multiplied(by: one), smallest)
        XCTAssertEqual(try largest.multiplied(by: ExactDecimal(-1)).units, -Int128.max)
        XCTAssertThrowsError(try smallest.multiplied(by: ExactDecimal(-1))) { XCTAssertEqual($0 as? ExactDecimalError, .overflow) }
        XCTAssertThrowsError(try largest.multiplied(by: ExactDecimal(units: 1_000_000_001))) { XCTAssertEqual($0 as? ExactDecimalError, .overflow) }
        XCTAssertThrowsError(try smallest.multiplied(by: smallest)) { XCTAssertEqual($0 as? ExactDecimalError, .overflow) }
        let big = try ExactDecimal(parsing: "1e15")
        XCTAssertThrowsError(try big.multiplied(by: big)) { XCTAssertEqual($0 as? ExactDecimalError, .overflow) }
        // (2^128 - 1) / 5 units × 2.5 is exactly Int128.max + 0.5 units: a tie that rounds to the even
        // neighbour 2^127, which overflows when positive but is exactly Int128.min when negative.
        let tieOperand = ExactDecimal(units: Int128(UInt128.max / 5))
        let twoAndHalf = try ExactDecimal(parsing: "2.5")
        XCTAssertEqual(UInt128.max % 5, 0)
        XCTAssertThrowsError(try tieOperand.multiplied(by: twoAndHalf)) { XCTAssertEqual($0 as? ExactDecimalError, .overflow) }
        XCTAssertEqual(try tieOperand.multiplied(by: twoAndHalf.subtracting(twoAndHalf).subtracting(twoAndHalf)), smallest)
        XCTAssertEqual(try ExactDecimal(units: tieOperand.units - 1).multiplied(by: twoAndHalf).units, Int128.max - 2)
    }

    func testDivisionMatchesSlowReferenceAndRoundingProperty() {
        var generator = SplitMix64(seed: 6)
        for iteration in 0..<30_000 {
            let units: Int128 = iteration < 4 ? [Int128.min, .max, .min + 1, 0][iteration] : generator.nextInt128()
            let divisor: Int64
            switch iteration % 4 {
            case 0: divisor = Int64.random(in: 1...10, using: &generator)
            case 1: divisor = 2
            case 2: divisor = Int64.random(in: 1...1_000_000, using: &generator)
            default: divisor = Int64(truncatingIfNeeded: generator.next() >> UInt64.random(in: 1...62, using: &generator)) | 1
            }
            let quotient = ExactDecimal(units: units).divided(by: divisor).units
            XCTAssertEqual(quotient, SlowDecimal.divide(units, by: divisor), "\(units) ÷ \(divisor)")
            // Property: |units - quotient × divisor| <= divisor / 2, ties only with an even quotient.
            if units.magnitude < UInt128(1) << 125 {
                let difference = (units - quotient * Int128(divisor)).magnitude * 2
                XCTAssertTrue(difference < UInt128(divisor) || (difference == UInt128(divisor) && quotient % 2 == 0), "\(units) ÷ \(divisor)")
            }
        }
        XCTAssertEqual(ExactDecimal(units: .min).divided(by: 1).units, .min)
        XCTAssertEqual(ExactDecimal(units: .max).divided(by: 2).units, Int128(1) << 126)  // tie → even
        XCTAssertEqual(ExactDecimal(units: -5).divided(by: 2).units, -2)
        XCTAssertEqual(ExactDecimal(units: -7).divided(by: 2).units, -4)
        XCTAssertEqual(try ExactDecimal(parsing: "10").divided(by: 3).description, "3.333333333")
        XCTAssertEqual(try ExactDecimal(parsing: "-20").divided(by: 3).description, "-6.666666667")
    }

    func testComparisonsAndHashing() throws {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<5_000 {
            let left = generator.nextInt128(maximumBitWidth: 96), right = generator.nextInt128(maximumBitWidth: 96)
            let leftDecimal = ExactDecimal(units: left), rightDecimal = ExactDecimal(units: right)
            // Foundation.Decimal is exact for these <= 29-digit values, so it is an independent order.
            let leftReference = Decimal(string: leftDecimal.description)!, rightReference = Decimal(string: rightDecimal.description)!
            XCTAssertEqual(leftDecimal < rightDecimal, leftReference < rightReference)
            XCTAssertEqual(leftDecimal == rightDecimal, leftReference == rightReference)
            XCTAssertEqual(leftDecimal > rightDecimal, leftReference > rightReference)
        }
        let ascending = ["-99999999999999999999.999999999", "-1", "-0.000000001", "0", "0.000000001", "0.5", "1", "1.000000001", "99999999999999999999.999999999"]
        let parsed = try ascending.map { try ExactDecimal(parsing: $0) }
        XCTAssertEqual(parsed.shuffled(using: &generator).sorted(), parsed)
        XCTAssertEqual(try ExactDecimal(parsing: "1.50"), try ExactDecimal(parsing: "15e-1"))
        XCTAssertEqual(Set(try ["1.5", "1.50", "+1.5", "0.15e1", "2"].map { try ExactDecimal(parsing: $0) }).count, 2)
        XCTAssertTrue(try ExactDecimal(parsing: "-0.000000001").isNegative)
        XCTAssertTrue(try ExactDecimal(parsing: "-0.0").isZero)
        XCTAssertFalse(try ExactDecimal(parsing: "-0.0").isNegative)
    }
}
