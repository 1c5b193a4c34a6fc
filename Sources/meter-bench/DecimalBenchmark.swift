import MeterCore

/// ExactDecimal parsing and multiplication per operation (was a test that only printed
/// timings; figures mean something in a release build only).
enum DecimalBenchmark {
    static func run(iterations: Int) throws {
        let samples = ["1234.5", "0.001", "25", "-17.25", "99999.999999999", "1e3", "3.14159", "42.000"]
        let byteArrays = samples.map { Array($0.utf8) }
        var checksum: Int128 = 0
        let start = ContinuousClock.now
        for iteration in 0..<iterations {
            try byteArrays[iteration & 7].withUnsafeBufferPointer { bytes in
                checksum &+= try ExactDecimal(parsingUTF8: bytes).units
            }
        }
        let parseDuration = ContinuousClock.now - start
        var product = ExactDecimal(1)
        let factor = try ExactDecimal(parsing: "1.000000001")
        let multiplyStart = ContinuousClock.now
        for _ in 0..<iterations { product = try product.multiplied(by: factor) }
        let multiplyDuration = ContinuousClock.now - multiplyStart
        func nanoseconds(_ duration: Duration) -> Double {
            (Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9) / Double(iterations)
        }
        print("ExactDecimal: parse \(format(nanoseconds(parseDuration))) ns, multiply \(format(nanoseconds(multiplyDuration))) ns per operation (\(iterations) each; checksum \(checksum), \(product))")
    }
}
