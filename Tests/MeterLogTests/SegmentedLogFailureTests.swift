import MeterTestSupport
import XCTest
@testable import MeterLog

/// After any failed write or sync the log refuses further appends and syncs until reopened.
final class SegmentedLogFailureTests: XCTestCase {
    private let firstSegment = "log-00000000000000000001.wal"

    private func openFaultInjected(_ directory: TemporaryDirectory, segmentSizeBytes: Int = 1 << 20) throws -> (SegmentedLog, FaultInjectingSystemCalls) {
        let systemCalls = FaultInjectingSystemCalls()
        var options = LogOptions(segmentSizeBytes: segmentSizeBytes)
        options.systemCalls = systemCalls
        let log = try SegmentedLog.open(directory: directory.path, options: options).log
        // The spare is written on its own thread through the same system calls: let it finish
        // so that injected failures and write counts concern the writer only.
        XCTAssertTrue(log.waitUntilSpareIsIdle())
        return (log, systemCalls)
    }

    private func assertFailed(_ log: SegmentedLog, underlying: LogError, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try log.append([LogRecord(type: 1, payload: [1])]), file: file, line: line) { error in
            XCTAssertEqual(error as? LogError, .failed(underlying: underlying), file: file, line: line)
        }
        XCTAssertThrowsError(try log.sync(), file: file, line: line) { error in
            XCTAssertEqual(error as? LogError, .failed(underlying: underlying), file: file, line: line)
        }
    }

    func testFailedWriteFailsTheLog() throws {
        let directory = try TemporaryDirectory(self)
        let (log, systemCalls) = try openFaultInjected(directory)
        try log.append(makeRecords(count: 3))
        systemCalls.fail(.pwrite, with: EIO)
        let expected = LogError.io(operation: "pwrite", path: directory.file(firstSegment), errno: EIO)
        XCTAssertThrowsError(try log.append(makeRecords(count: 1, startingAt: 3))) { error in
            XCTAssertEqual(error as? LogError, expected)
            XCTAssertTrue("\(error)".contains("Input/output error"), "\(error)")
        }
        systemCalls.stopFailing()
        assertFailed(log, underlying: expected)
        XCTAssertEqual(log.lastSequence, 3)
        XCTAssertEqual(try recordsOf(log), makeRecords(count: 3), "reading still works")
        log.close()

        let (reopened, report) = try SegmentedLog.open(directory: directory.path, options: LogOptions(segmentSizeBytes: 1 << 20))
        defer { reopened.close() }
        XCTAssertTrue(report.isClean)
        XCTAssertEqual(try recordsOf(reopened), makeRecords(count: 3))
    }

    func testFailedSyncFailsTheLog() throws {
        let directory = try TemporaryDirectory(self)
        let (log, systemCalls) = try openFaultInjected(directory)
        defer { log.close() }
        try log.append(makeRecords(count: 2))
        systemCalls.fail(.fdatasync, with: EIO)
        let expected = LogError.io(operation: "fdatasync", path: directory.file(firstSegment), errno: EIO)
        XCTAssertThrowsError(try log.sync()) { XCTAssertEqual($0 as? LogError, expected) }
        systemCalls.stopFailing()
        assertFailed(log, underlying: expected)
    }

    func testFailureWhileRollingFailsTheLog() throws {
        let directory = try TemporaryDirectory(self)
        let (log, systemCalls) = try openFaultInjected(directory, segmentSizeBytes: 64)
        try log.append([LogRecord(type: 1, payload: Array(repeating: 3, count: 64))])
        systemCalls.fail(.fsync, with: ENOSPC)
        let expected = LogError.io(operation: "fsync", path: directory.file(firstSegment), errno: ENOSPC)
        XCTAssertThrowsError(try log.append([LogRecord(type: 1, payload: [4])])) { XCTAssertEqual($0 as? LogError, expected) }
        systemCalls.stopFailing()
        assertFailed(log, underlying: expected)
        log.close()

        // The seal reached the file, so reopening starts the next segment.
        let (reopened, report) = try SegmentedLog.open(directory: directory.path, options: LogOptions(segmentSizeBytes: 64))
        defer { reopened.close() }
        XCTAssertEqual(report.createdSegment, "log-00000000000000000002.wal")
        XCTAssertEqual(reopened.lastSequence, 1)
    }

    func testShortWritesAndInterruptionsAreRetried() throws {
        let directory = try TemporaryDirectory(self)
        let (log, systemCalls) = try openFaultInjected(directory, segmentSizeBytes: 1024)
        systemCalls.writeShort(atMost: 7, interrupting: true)
        let records = makeRecords(count: 50)
        try log.append(Array(records[0..<10]))
        for record in records[10...] { try log.append([record]) }
        try log.sync()
        XCTAssertEqual(try recordsOf(log), records)
        log.close()
        let (reopened, report) = try SegmentedLog.open(directory: directory.path, options: LogOptions(segmentSizeBytes: 1024))
        defer { reopened.close() }
        XCTAssertTrue(report.isClean)
        XCTAssertEqual(try recordsOf(reopened), records)
    }

    func testAppendIssuesOneWrite() throws {
        let directory = try TemporaryDirectory(self)
        let (log, systemCalls) = try openFaultInjected(directory)
        defer { log.close() }
        var before = systemCalls.writeCallCount
        try log.append([LogRecord(type: 1, payload: [UInt8](repeating: 0x5A, count: 100_000))])
        XCTAssertEqual(systemCalls.writeCallCount - before, 1)
        before = systemCalls.writeCallCount
        try log.append(makeRecords(count: 1000))
        XCTAssertEqual(systemCalls.writeCallCount - before, 1)
    }

    func testRealWriteFailureFromFileSizeLimitLeavesATornTail() throws {
        // Preallocated segments never grow, except for one append larger than a whole segment:
        // that one is written into the fresh spare past its preallocated end, and fails there.
        let directory = try TemporaryDirectory(self)
        let options = LogOptions(segmentSizeBytes: 4096)
        let (log, _) = try SegmentedLog.open(directory: directory.path, options: options)
        try log.append(makeRecords(count: 3))
        try log.sync()
        XCTAssertTrue(log.waitUntilSpareIsIdle())
        let sizeBefore = 4096
        let grownSegment = "log-00000000000000000004.wal"

        // The kernel writes up to the limit, then refuses with EFBIG: a real short write
        // followed by a real failure.
        let resource = __rlimit_resource_t(RLIMIT_FSIZE.rawValue)
        var saved = rlimit()
        XCTAssertEqual(getrlimit(resource, &saved), 0)
        let previousHandler = signal(SIGXFSZ, SIG_IGN)
        var limited = saved
        limited.rlim_cur = rlim_t(sizeBefore + 1000)
        XCTAssertEqual(setrlimit(resource, &limited), 0)
        let error = Result { try log.append([LogRecord(type: 1, payload: [UInt8](repeating: 7, count: 10_000))]) }
        XCTAssertEqual(setrlimit(resource, &saved), 0)
        signal(SIGXFSZ, previousHandler)

        let expected = LogError.io(operation: "pwrite", path: directory.file(grownSegment), errno: EFBIG)
        XCTAssertThrowsError(try error.get()) { XCTAssertEqual($0 as? LogError, expected) }
        assertFailed(log, underlying: expected)
        log.close()

        let (reopened, report) = try SegmentedLog.open(directory: directory.path, options: options)
        defer { reopened.close() }
        XCTAssertEqual(report.tornTail?.segment, grownSegment)
        XCTAssertEqual(report.tornTail?.offset, 32)
        XCTAssertEqual(report.tornTail?.byteCount, Int64(sizeBefore + 1000 - 32))
        XCTAssertEqual(try recordsOf(reopened), makeRecords(count: 3))
    }
}
