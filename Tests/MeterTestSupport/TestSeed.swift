import Foundation

/// The seed of a test run's randomized tests: `METERD_TEST_SEED` (decimal, or hex with 0x;
/// `random` picks one) when set, otherwise a fixed default so that CI runs are repeatable.
/// Every generator made here prints the run's seed, so a failure can be replayed with
/// `METERD_TEST_SEED=<seed> swift test --filter <test>`.
public enum TestSeed {
    public static let defaultValue: UInt64 = 0x5EED_2026

    /// The run's seed (read once).
    public static let value: UInt64 = {
        guard let text = ProcessInfo.processInfo.environment["METERD_TEST_SEED"] else { return defaultValue }
        if text == "random" { return UInt64.random(in: 0...UInt64.max) }
        guard let parsed = parse(text) else { fatalError("METERD_TEST_SEED must be an unsigned integer or random, got \(text)") }
        return parsed
    }()

    /// `12345` or `0x3039`; nil for anything else.
    public static func parse(_ text: String) -> UInt64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("0x") || trimmed.hasPrefix("0X") {
            return UInt64(trimmed.dropFirst(2), radix: 16)
        }
        return UInt64(trimmed)
    }

    /// A generator for one test: the run's seed mixed with the test's name (FNV-1a), so tests
    /// do not share sequences. Prints the seed and how to replay it.
    public static func generator(for testName: String) -> SplitMix64 {
        print("\(testName): random seed \(description) (replay: METERD_TEST_SEED=\(description))")
        return SplitMix64(seed: value ^ hash(testName))
    }

    /// The seed as written in messages: `0x5eed2026`.
    public static var description: String { "0x" + String(value, radix: 16) }

    static func hash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
