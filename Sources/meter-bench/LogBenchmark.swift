import Foundation
import MeterLog

/// SegmentedLog: one large append and its fdatasync, a million small records appended in
/// batches, reopening (validation) and replay (was a test that only printed timings).
enum LogBenchmark {
    static func run(directory: String, recordCount: Int) throws {
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var (log, _) = try SegmentedLog.open(directory: directory, options: LogOptions())

        let large = [UInt8](repeating: 0x42, count: 100_000)
        var clock = ContinuousClock.now
        try large.withUnsafeBytes { _ = try log.append(type: 1, payload: $0) }
        report("append of one 100 KB record (one write)", since: clock)
        clock = .now
        try log.sync()
        report("fdatasync after it", since: clock)

        let batchSize = 1000
        let batch = (0..<batchSize).map { index in
            LogRecord(type: 2, payload: (0..<100).map { UInt8(truncatingIfNeeded: $0 &+ index) })
        }
        clock = .now
        for _ in 0..<(recordCount / batchSize) { try log.append(batch) }
        try log.sync()
        report("append of \(recordCount) 100-byte records in batches of \(batchSize), then sync", since: clock, count: recordCount)
        log.close()

        clock = .now
        (log, _) = try SegmentedLog.open(directory: directory, options: LogOptions())
        defer { log.close() }
        report("open: validate \(recordCount + 1) records", since: clock, count: recordCount)

        clock = .now
        var replayed = 0
        try log.read(from: 2) { _, _ in replayed += 1 }
        report("replay of \(replayed) records", since: clock, count: replayed)
    }

    private static func report(_ what: String, since start: ContinuousClock.Instant, count: Int? = nil) {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var line = "\(what): \(format(seconds * 1000)) ms"
        if let count, seconds > 0 { line += " (\(format(Double(count) / seconds / 1e6)) million/s)" }
        print(line)
    }
}
