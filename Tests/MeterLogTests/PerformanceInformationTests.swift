import Foundation
import MeterTestSupport
import XCTest
@testable import MeterLog

/// Prints timings for information only; nothing here asserts on time. Numbers from a debug
/// build are many times slower than release (`swift test -c release -Xswiftc -enable-testing`).
final class PerformanceInformationTests: XCTestCase {
    func testAppendReplayAndRecoveryTimings() throws {
        let directory = try TemporaryDirectory(self)
        var (log, _) = try SegmentedLog.open(directory: directory.path, options: LogOptions())

        let large = [UInt8](repeating: 0x42, count: 100_000)
        var clock = ContinuousClock.now
        try large.withUnsafeBytes { _ = try log.append(type: 1, payload: $0) }
        report("append of one 100 KB record (one write)", since: clock)
        clock = .now
        try log.sync()
        report("fdatasync after it", since: clock)

        let recordCount = 1_000_000
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
        (log, _) = try SegmentedLog.open(directory: directory.path, options: LogOptions())
        defer { log.close() }
        report("open: validate \(recordCount + 1) records", since: clock, count: recordCount)

        clock = .now
        var replayed = 0
        var payloadBytes = 0
        try log.read(from: 2) { _, record in
            replayed += 1
            payloadBytes += record.payload.count
        }
        report("replay of \(replayed) records", since: clock, count: replayed)
        XCTAssertEqual(replayed, recordCount)
        XCTAssertEqual(payloadBytes, recordCount * 100)
    }

    private func report(_ what: String, since start: ContinuousClock.Instant, count: Int? = nil) {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var line = "[information] \(what): \(String(format: "%.3f", seconds * 1000)) ms"
        if let count, seconds > 0 { line += String(format: " (%.2f million/s)", Double(count) / seconds / 1e6) }
        print(line)
    }
}
