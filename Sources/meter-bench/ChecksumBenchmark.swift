import MeterLog

/// CRC-32C throughput over a 64 MiB buffer: the CPU instruction (what the log and snapshots
/// use where there is one) and the software tables, side by side, best of five each.
enum ChecksumBenchmark {
    static func run() {
        let bytes = (0..<(64 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        let clock = ContinuousClock()
        func best(_ body: (UnsafeRawBufferPointer) -> UInt32) -> (Double, UInt32) {
            var fastest = Double.infinity
            var result: UInt32 = 0
            for _ in 0..<5 {
                let elapsed = clock.measure { result = bytes.withUnsafeBytes(body) }
                fastest = min(fastest, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            }
            return (Double(bytes.count) / fastest / 1e9, result)
        }
        let (hardware, first) = best { CRC32C.update(0, $0) }
        let (software, second) = best { CRC32C.softwareUpdate(0, $0) }
        print("== CRC-32C over 64 MiB, best of 5")
        print("CRC32C.update (\(CRC32C.usesHardware ? "CPU instruction" : "tables: no instruction here")): \(format(hardware)) GB/s")
        print("software tables: \(format(software)) GB/s; same checksum: \(first == second)")
    }
}
