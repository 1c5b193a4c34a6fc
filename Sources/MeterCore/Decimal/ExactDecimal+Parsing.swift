/// Exact parsing of decimal text.
///
/// Grammar (a superset of JSON numbers):
///
///     number   = [ "+" | "-" ] significand [ exponent ]
///     significand = digits [ "." [ digits ] ] | "." digits
///     exponent = ( "e" | "E" ) [ "+" | "-" ] digits
///
/// So `"25.5"`, `"-0.001"`, `"+3"`, `"007"`, `"1e3"` and `"2.5E-3"` are accepted, and so are the
/// lenient forms `"1."` and `".5"` (at least one digit is required before or after the point).
/// Whitespace, `"inf"`, `"nan"`, hexadecimal and `"."`/`"e5"`/`"1e"` are rejected.
///
/// The value is computed exactly. Once the exponent is applied it may have at most 9 fractional
/// digits, not counting trailing zeros (`"1.5000000000000"` and `"20e-10"` are fine, `"1e-10"` is
/// not), and its magnitude must be below `10^20`. Work is a constant amount per input byte with no
/// allocation, whatever the length of the input or the size of the exponent.
extension ExactDecimal {
    /// Parses decimal text exactly (see the grammar above).
    ///
    /// - Throws: ``ExactDecimalError/empty``, ``ExactDecimalError/invalidCharacter(position:)`` (a
    ///   zero-based UTF-8 byte offset), ``ExactDecimalError/malformed``,
    ///   ``ExactDecimalError/tooManyFractionDigits`` or ``ExactDecimalError/outOfRange``. When the
    ///   value is both too large and too precise, ``ExactDecimalError/outOfRange`` is reported.
    @inlinable
    public init(parsing text: some StringProtocol) throws(ExactDecimalError) {
        let contiguousResult = text.utf8.withContiguousStorageIfAvailable { bytes in
            Result { () throws(ExactDecimalError) -> Int128 in try ExactDecimal.parseUnits(bytes) }
        }
        if let contiguousResult {
            self.init(units: try contiguousResult.get())
        } else {
            var copy = String(text)
            let copiedResult = copy.withUTF8 { bytes in
                Result { () throws(ExactDecimalError) -> Int128 in try ExactDecimal.parseUnits(bytes) }
            }
            self.init(units: try copiedResult.get())
        }
    }

    /// Parses decimal text given as UTF-8 bytes; identical rules and errors to ``init(parsing:)``.
    /// This is the allocation-free hot path for values decoded straight from wire bytes.
    public init(parsingUTF8 bytes: UnsafeBufferPointer<UInt8>) throws(ExactDecimalError) {
        self.init(units: try Self.parseUnits(bytes))
    }

    /// Most integer digits an input value may have (`|value| < 10^20`).
    private static let maximumIntegerDigitCount = 20

    /// Parses `bytes` and returns the value in units (`value × 10^9`).
    @usableFromInline
    static func parseUnits(_ bytes: UnsafeBufferPointer<UInt8>) throws(ExactDecimalError) -> Int128 {
        let count = bytes.count
        guard count > 0 else { throw .empty }
        let minusSign = UInt8(ascii: "-")
        let plusSign = UInt8(ascii: "+")
        let zeroDigit = UInt8(ascii: "0")

        var index = 0
        var isNegative = false
        if bytes[0] == minusSign {
            isNegative = true
            index = 1
        } else if bytes[0] == plusSign {
            index = 1
        }

        var significand = SignificandAccumulator()
        var mantissaDigitCount = significand.appendDigits(of: bytes, from: &index)
        var fractionDigitCount = 0
        if index < count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            fractionDigitCount = significand.appendDigits(of: bytes, from: &index)
            mantissaDigitCount += fractionDigitCount
        }
        guard mantissaDigitCount > 0 else { throw unexpectedByte(in: bytes, at: index) }

        var exponent = 0
        if index < count && bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            var exponentIsNegative = false
            if index < count && (bytes[index] == minusSign || bytes[index] == plusSign) {
                exponentIsNegative = bytes[index] == minusSign
                index += 1
            }
            // Any exponent beyond `count + 64` in magnitude already forces the outcome (outOfRange or
            // tooManyFractionDigits for a nonzero value, zero otherwise), so it saturates there.
            // This keeps huge exponents such as "1e999999999999999999999" cheap and overflow-free.
            let saturation = min(count, Int.max >> 8) + 64
            var exponentMagnitude = 0
            let exponentStart = index
            while index < count {
                let digit = bytes[index] &- zeroDigit
                if digit > 9 { break }
                if exponentMagnitude < saturation {
                    exponentMagnitude = exponentMagnitude * 10 + Int(digit)
                }
                index += 1
            }
            guard index > exponentStart else { throw unexpectedByte(in: bytes, at: index) }
            exponent = exponentIsNegative ? -exponentMagnitude : exponentMagnitude
        }
        guard index == count else { throw unexpectedByte(in: bytes, at: index) }

        // value = significand × 10^decimalExponent, significand has `digitCount` digits, last nonzero.
        let digitCount = significand.digitCount
        guard digitCount > 0 else { return 0 }
        let decimalExponent = significand.trailingZeroCount - fractionDigitCount + exponent
        if digitCount + decimalExponent > maximumIntegerDigitCount { throw .outOfRange }
        if decimalExponent < -scale { throw .tooManyFractionDigits }
        // Here digitCount <= 29, so the significand was kept in full and the scaled value is < 10^29.
        let magnitude = multiplyByPowerOfTen(significand.value, decimalExponent + scale)
        let value = Int128(truncatingIfNeeded: magnitude)
        return isNegative ? 0 &- value : value
    }

    /// Classifies a byte that does not fit the grammar at `index` (which may be the end of input).
    private static func unexpectedByte(in bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> ExactDecimalError {
        guard index < bytes.count else { return .malformed }
        switch bytes[index] {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"),
            UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"):
            return .malformed
        default:
            return .invalidCharacter(position: index)
        }
    }
}

/// Accumulates the significant digits of a decimal mantissa without ever overflowing.
///
/// Leading zeros are skipped and trailing zeros are only counted, so the significand holds the digits
/// from the first to the last nonzero digit. The first 19 such digits live in a `UInt64` (the fast
/// path for ordinary inputs); digits 20 to 29 continue in a `UInt128`. Anything longer cannot be a
/// valid in-range value with 9 fractional digits, and the parser rejects it from the counts alone.
private struct SignificandAccumulator {
    /// Appends the run of ASCII digits starting at `index` and moves `index` past it; returns
    /// how many digits the run had.
    @inline(__always)
    mutating func appendDigits(of bytes: UnsafeBufferPointer<UInt8>, from index: inout Int) -> Int {
        let start = index
        while index < bytes.count {
            let digit = bytes[index] &- UInt8(ascii: "0")
            if digit > 9 { break }
            append(digit)
            index += 1
        }
        return index - start
    }

    /// Longest significand that can still be valid: 20 integer digits plus 9 fractional digits.
    static let maximumDigitCount = 29
    /// Most digits that always fit in a `UInt64`.
    static let narrowDigitCount = 19

    /// The significand while it has at most 19 digits.
    var narrowValue: UInt64 = 0
    /// The significand once it has 20 to 29 digits.
    var wideValue: UInt128 = 0
    /// Number of digits from the first to the last nonzero digit seen so far.
    var digitCount = 0
    /// Zeros seen after the last nonzero digit.
    var trailingZeroCount = 0

    /// The significand (valid whenever `digitCount <= maximumDigitCount`).
    var value: UInt128 {
        digitCount <= Self.narrowDigitCount ? UInt128(narrowValue) : wideValue
    }

    /// Appends one digit (0 through 9). The common case (a nonzero digit right after another
    /// significant digit, fewer than 19 digits so far) is a single multiply-add.
    @inline(__always)
    mutating func append(_ digit: UInt8) {
        if digit == 0 {
            if digitCount != 0 { trailingZeroCount &+= 1 }
        } else if trailingZeroCount == 0 && digitCount < Self.narrowDigitCount {
            narrowValue = narrowValue &* 10 &+ UInt64(digit)
            digitCount &+= 1
        } else {
            // Passed and returned by value so the accumulator can stay in registers in the hot loop.
            self = Self.appendingAfterZerosOrBeyondNarrow(self, digit)
        }
    }

    /// Appends a nonzero digit that follows trailing zeros or that does not fit in `narrowValue`.
    @inline(never)
    static func appendingAfterZerosOrBeyondNarrow(_ accumulator: Self, _ digit: UInt8) -> Self {
        var result = accumulator
        result.appendSlowly(digit)
        return result
    }

    /// The general append of a nonzero digit (see ``appendingAfterZerosOrBeyondNarrow(_:_:)``).
    private mutating func appendSlowly(_ digit: UInt8) {
        let newDigitCount = digitCount &+ trailingZeroCount &+ 1
        if newDigitCount <= Self.narrowDigitCount {
            narrowValue = narrowValue &* powerOfTen(trailingZeroCount &+ 1) &+ UInt64(digit)
        } else if newDigitCount <= Self.maximumDigitCount {
            let current = digitCount <= Self.narrowDigitCount ? UInt128(narrowValue) : wideValue
            wideValue = multiplyByPowerOfTen(current, trailingZeroCount &+ 1) &+ UInt128(digit)
        }
        digitCount = newDigitCount
        trailingZeroCount = 0
    }
}

/// `10^exponent` for `0 <= exponent <= 19` (a switch, which compiles to a constant lookup table).
@inline(__always)
private func powerOfTen(_ exponent: Int) -> UInt64 {
    switch exponent {
    case 0: return 1
    case 1: return 10
    case 2: return 100
    case 3: return 1_000
    case 4: return 10_000
    case 5: return 100_000
    case 6: return 1_000_000
    case 7: return 10_000_000
    case 8: return 100_000_000
    case 9: return 1_000_000_000
    case 10: return 10_000_000_000
    case 11: return 100_000_000_000
    case 12: return 1_000_000_000_000
    case 13: return 10_000_000_000_000
    case 14: return 100_000_000_000_000
    case 15: return 1_000_000_000_000_000
    case 16: return 10_000_000_000_000_000
    case 17: return 100_000_000_000_000_000
    case 18: return 1_000_000_000_000_000_000
    default: return 10_000_000_000_000_000_000
    }
}

/// `value × 10^exponent` for `0 <= exponent <= 38`, wrapping (callers guarantee the result fits).
@inline(__always)
private func multiplyByPowerOfTen(_ value: UInt128, _ exponent: Int) -> UInt128 {
    if exponent <= SignificandAccumulator.narrowDigitCount {
        return value &* UInt128(powerOfTen(exponent))
    }
    return value &* UInt128(powerOfTen(SignificandAccumulator.narrowDigitCount))
        &* UInt128(powerOfTen(exponent &- SignificandAccumulator.narrowDigitCount))
}
