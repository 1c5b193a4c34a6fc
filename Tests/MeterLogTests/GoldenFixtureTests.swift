import Foundation
import MeterTestSupport
import XCTest
@testable import MeterLog

/// The on-disk bytes are a compatibility promise: these tests compare what the writer
/// produces with committed fixtures, and read the fixtures back. After an intended format
/// change, regenerate with `METERD_UPDATE_FIXTURES=1 swift test` and review the diff.
final class GoldenFixtureTests: XCTestCase {
    private let records = [
        LogRecord(type: 1, payload: Array("meter:api_calls".utf8)),
        LogRecord(type: 2, payload: []),
        LogRecord(type: 3, payload: Array(0..<8)),
    ]

    func testLogBytesMatchFixture() throws {
        let directory = try TemporaryDirectory(self)
        let options = LogOptions(segmentSizeBytes: 64)
        let (log, _) = try SegmentedLog.open(directory: directory.path, options: options)
        try log.append(Array(records[0..<2]))
        try log.append([records[2]])  // rolls: the first segment is sealed
        log.close()
        // A closed log's segments end at their last frame (preallocated space given back); the
        // spare waiting for the next roll is zeros and not part of the format.
        let files = try directory.segmentNames().map { ($0, try readBytes(directory.file($0))) }
        XCTAssertEqual(files.map(\.0), ["log-00000000000000000001.wal", "log-00000000000000000003.wal"])
        try assertMatchesFixture(files, named: "log.version_2.two_segments.hex", comment: "Format version 2: records 1-2 in one append, then record 3 after a roll (segmentSizeBytes 64), closed.")
    }

    func testFixtureLogsOfEveryReadableVersionReadBack() throws {
        // Version 1 (before preallocation) is still read; its fixture is frozen, never regenerated.
        for fixture in ["log.version_1.two_segments.hex", "log.version_2.two_segments.hex"] {
            let directory = try TemporaryDirectory(self)
            for (name, bytes) in try loadFixture(fixture) {
                try writeBytes(bytes, to: directory.file(name))
            }
            let (log, report) = try SegmentedLog.open(directory: directory.path, options: LogOptions(segmentSizeBytes: 64))
            defer { log.close() }
            XCTAssertTrue(report.isClean, fixture)
            XCTAssertEqual(try recordsOf(log), records, fixture)
        }
    }

    func testSnapshotBytesMatchFixture() throws {
        let directory = try TemporaryDirectory(self)
        let store = try SnapshotStore(directory: directory.path)
        try store.write(sequence: 42, bytes: Array("state".utf8))
        let files = try directory.names().map { ($0, try readBytes(directory.file($0))) }
        try assertMatchesFixture(files, named: "snapshot.sequence_42.hex", comment: "Snapshot of sequence 42 holding the bytes \"state\".")
        XCTAssertEqual(try store.loadNewest()?.bytes, Array("state".utf8))
    }

    // MARK: - Fixture files: "file <name>" lines, then the file's bytes as hex, 16 a line.

    private func fixturePath(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Inputs/\(name)").path
    }

    private func assertMatchesFixture(_ files: [(String, [UInt8])], named name: String, comment: String) throws {
        var text = "# \(comment)\n# Regenerate with METERD_UPDATE_FIXTURES=1 swift test.\n"
        for (fileName, bytes) in files {
            text += "file \(fileName)\n"
            for start in stride(from: 0, to: bytes.count, by: 16) {
                let line = bytes[start..<min(bytes.count, start + 16)]
                let words = stride(from: line.startIndex, to: line.endIndex, by: 4).map { wordStart in
                    line[wordStart..<min(line.endIndex, wordStart + 4)].map { String(format: "%02x", $0) }.joined()
                }
                text += words.joined(separator: " ") + "\n"
            }
        }
        if ProcessInfo.processInfo.environment["METERD_UPDATE_FIXTURES"] == "1" {
            try text.write(toFile: fixturePath(name), atomically: true, encoding: .utf8)
            return
        }
        let committed = try String(contentsOfFile: fixturePath(name), encoding: .utf8)
        XCTAssertEqual(text, committed, "on-disk bytes differ from Inputs/\(name); if intended, regenerate")
    }

    private func loadFixture(_ name: String) throws -> [(String, [UInt8])] {
        var files: [(String, [UInt8])] = []
        for line in try String(contentsOfFile: fixturePath(name), encoding: .utf8).split(separator: "\n") {
            if line.hasPrefix("#") { continue }
            if line.hasPrefix("file ") {
                files.append((String(line.dropFirst(5)), []))
                continue
            }
            let digits = Array(line.filter { $0 != " " })
            for index in stride(from: 0, to: digits.count, by: 2) {
                files[files.count - 1].1.append(try XCTUnwrap(UInt8(String(digits[index...(index + 1)]), radix: 16)))
            }
        }
        return files
    }
}
