import Foundation
import MeterTestSupport
import XCTest
@testable import MeterLog

/// Preallocated segments (format version 2): the spare prepared on its own thread becomes the
/// next segment, a crash during preparation leaves nothing that is misread, zeros after the
/// last record of a log that was not closed are its clean end, and an unknown format version
/// is refused without a change.
final class SegmentedLogPreallocationTests: XCTestCase {
    private let segmentByteCount = 4096
    private var options: LogOptions { LogOptions(segmentSizeBytes: segmentByteCount) }
    private let ready = SparePreparer.readyName
    private let partial = SparePreparer.partialName

    func testTheSparePreparedInTheBackgroundBecomesTheNextSegment() throws {
        let directory = try TemporaryDirectory(self)
        let (log, _) = try SegmentedLog.open(directory: directory.path, options: options)
        defer { log.close() }
        // The spare exists, full size and zero, before any roll needs it.
        XCTAssertTrue(log.waitUntilSpareIsIdle())
        XCTAssertEqual(try readBytes(directory.file(ready)), [UInt8](repeating: 0, count: segmentByteCount))
        XCTAssertEqual(try permissions(directory.file(ready)), 0o600)
        let spareInode = try inode(directory.file(ready))
        XCTAssertEqual(log.spares.preparedSpareCount, 1)

        let records = makeRecords(count: 60, maximumPayloadByteCount: 200)
        var rolledInto: String?
        for record in records {
            try log.append([record])
            if let second = try directory.segmentNames().dropFirst().first {
                rolledInto = second
                break
            }
        }
        let second = try XCTUnwrap(rolledInto, "no roll")
        // The new segment is the very file that was prepared, and a next spare is made.
        XCTAssertEqual(try inode(directory.file(second)), spareInode)
        XCTAssertTrue(log.waitUntilSpareIsIdle())
        XCTAssertEqual(log.spares.preparedSpareCount, 2)
        XCTAssertNotEqual(try inode(directory.file(ready)), spareInode)
        // The sealed segment gave its unused zeros back; the active one is full size.
        let first = try directory.segmentNames()[0]
        XCTAssertLessThanOrEqual(try fileSize(directory.file(first)), segmentByteCount)
        XCTAssertNotEqual(try readBytes(directory.file(first)).suffix(40).first, 0, "ends with the seal frame")
        XCTAssertEqual(try fileSize(directory.file(second)), segmentByteCount)
    }

    func testAHalfWrittenSpareFromACrashIsDiscardedAndAWrongSizedOneReplaced() throws {
        let directory = try TemporaryDirectory(self)
        // A crash while preparing: part of the zeros, some stray bytes, never renamed ready.
        try writeBytes([UInt8](repeating: 0, count: 1000) + [0xAB, 0xCD], to: directory.file(partial))
        // A ready spare from a run with another segment size (replaced: it is 8 KiB, not 4 KiB).
        try writeBytes([UInt8](repeating: 0, count: 2 * segmentByteCount), to: directory.file(ready))

        var (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
        XCTAssertTrue(report.isClean)
        XCTAssertTrue(log.waitUntilSpareIsIdle())
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.file(partial)))
        XCTAssertEqual(try readBytes(directory.file(ready)), [UInt8](repeating: 0, count: segmentByteCount))

        // The log works through several rolls, and a ready spare of the right size is reused.
        let records = makeRecords(count: 80, maximumPayloadByteCount: 200)
        for record in records[0..<40] { try log.append([record]) }
        XCTAssertGreaterThan(try directory.segmentNames().count, 1)
        XCTAssertTrue(log.waitUntilSpareIsIdle())
        let readyInode = try inode(directory.file(ready))
        log.close()
        (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
        defer { log.close() }
        XCTAssertTrue(report.isClean)
        XCTAssertEqual(log.spares.preparedSpareCount, 0, "the leftover spare was reused, not rewritten")
        XCTAssertEqual(try inode(directory.file(ready)), readyInode)
        for record in records[40...] { try log.append([record]) }
        XCTAssertEqual(try recordsOf(log), records)
    }

    func testRecordsThenZerosOfALogThatWasNeverClosedOpenClean() throws {
        let (bytes, _) = try crashedSegment()
        XCTAssertEqual(bytes.count, segmentByteCount)
        let directory = try directory(holding: bytes)
        let (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
        defer { log.close() }
        XCTAssertTrue(report.isClean, "\(report)")
        XCTAssertEqual(try recordsOf(log), makeRecords(count: 5, maximumPayloadByteCount: 50))
    }

    func testABitFlipInTheLastRecordBeforeTheZerosIsATornTail() throws {
        let (bytes, offsets) = try crashedSegment()
        let lastStart = offsets[4]
        for byteOffset in stride(from: lastStart, to: offsets[5], by: 3) {
            var damaged = bytes
            damaged[byteOffset] ^= 0x10
            let directory = try directory(holding: damaged)
            let (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
            defer { log.close() }
            let torn = try XCTUnwrap(report.tornTail, "byte \(byteOffset)")
            XCTAssertEqual(torn.offset, Int64(lastStart))
            XCTAssertEqual(report.damage.first?.firstLostSequence, 5)
            XCTAssertEqual(log.lastSequence, 4)
        }
    }

    func testZerosInTheMiddleFollowedByARecordAreCorruption() throws {
        let (bytes, offsets) = try crashedSegment()
        var damaged = bytes
        for index in offsets[2]..<offsets[3] { damaged[index] = 0 }
        let directory = try directory(holding: damaged)
        XCTAssertThrowsError(try SegmentedLog.open(directory: directory.path, options: options)) { error in
            guard case let .corruption(_, offset, reason) = error as? LogError else { return XCTFail("\(error)") }
            XCTAssertEqual(offset, Int64(offsets[2]))
            XCTAssertTrue(reason.contains("a valid frame with sequence 4 follows"), reason)
        }
    }

    func testASegmentOfAnUnknownVersionIsRefusedAndNothingChanges() throws {
        let (bytes, _) = try crashedSegment()
        var future = bytes
        var header = try XCTUnwrap(try? SegmentHeader.decode(future.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[0..<32]) }).get())
        header.version = 3
        future.replaceSubrange(0..<32, with: header.encoded())
        let directory = try directory(holding: future)
        let segment = "log-00000000000000000001.wal"
        XCTAssertThrowsError(try SegmentedLog.open(directory: directory.path, options: LogOptions(segmentSizeBytes: segmentByteCount, repair: true))) { error in
            XCTAssertEqual(error as? LogError, .unsupportedVersion(segment: segment, version: 3))
            XCTAssertTrue("\(error)".contains("format version 3, which this meterd cannot read"), "\(error)")
        }
        XCTAssertEqual(try directory.names(), [segment])
        XCTAssertEqual(try readBytes(directory.file(segment)), future)
    }

    func testAVersion1LogIsReadAndContinuesInVersion2Segments() throws {
        let (bytes, offsets) = try crashedSegment()
        var version1 = Array(bytes[0..<offsets[5]])
        var header = try XCTUnwrap(try? SegmentHeader.decode(version1.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[0..<32]) }).get())
        header.version = 1
        version1.replaceSubrange(0..<32, with: header.encoded())
        let directory = try directory(holding: version1)
        let records = makeRecords(count: 5, maximumPayloadByteCount: 50) + makeRecords(count: 60, startingAt: 5, maximumPayloadByteCount: 200)
        var (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
        XCTAssertTrue(report.isClean)
        // The version 1 active segment is not preallocated (zeros would be damage in it).
        XCTAssertEqual(try fileSize(directory.file("log-00000000000000000001.wal")), offsets[5])
        for record in records[5...] { try log.append([record]) }
        log.close()
        let segments = try directory.segmentNames()
        XCTAssertGreaterThan(segments.count, 1)
        for name in segments.dropFirst() {
            XCTAssertEqual(Array(try readBytes(directory.file(name))[8..<12]), [2, 0, 0, 0], name)
        }
        (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
        defer { log.close() }
        XCTAssertTrue(report.isClean)
        XCTAssertEqual(try recordsOf(log), records)
    }

    // MARK: - Helpers

    /// The bytes of a preallocated segment holding five synced records, copied while the log
    /// is still open (as a crash leaves it: zeros after the last record), and the frame offsets.
    private func crashedSegment() throws -> (bytes: [UInt8], offsets: [Int]) {
        let directory = try TemporaryDirectory(self)
        let (log, _) = try SegmentedLog.open(directory: directory.path, options: options)
        defer { log.close() }
        var offsets = [32]
        for record in makeRecords(count: 5, maximumPayloadByteCount: 50) {
            try log.append([record])
            offsets.append(offsets[offsets.count - 1] + LogFormat.frameByteCount(payloadByteCount: record.payload.count))
        }
        try log.sync()
        return (try readBytes(directory.file("log-00000000000000000001.wal")), offsets)
    }

    private func directory(holding bytes: [UInt8]) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory(self)
        try writeBytes(bytes, to: directory.file("log-00000000000000000001.wal"))
        return directory
    }

    private func inode(_ path: String) throws -> UInt64 {
        var status = stat()
        guard stat(path, &status) == 0 else { throw POSIXError(.ENOENT) }
        return UInt64(status.st_ino)
    }

    private func permissions(_ path: String) throws -> Int {
        var status = stat()
        guard stat(path, &status) == 0 else { throw POSIXError(.ENOENT) }
        return Int(status.st_mode) & 0o777
    }
}
