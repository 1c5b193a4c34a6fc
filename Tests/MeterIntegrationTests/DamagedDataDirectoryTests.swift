import Foundation
import MeterTestSupport
import XCTest

/// meterd itself on data directories with a flipped byte: a damaged last record that the
/// shutdown snapshot covers must not stop it from starting, and a refusal is an error message
/// with a failing exit code, never the argument-usage banner.
final class DamagedDataDirectoryTests: XCTestCase {
    func testMeterdStartsWithAFlippedLastRecordAndRefusesOtherDamageWithoutAUsageBanner() throws {
        let base = try TemporaryDirectory("meterd-damaged", removedBy: addTeardownBlock).path
        let data = base + "/data"

        // Real records and a shutdown snapshot, written by the real engine.
        let driver = try ChildProcess("meter-engine-driver", ["run", data, "0", "1", "5"])
        var acknowledgements = 0
        while let line = driver.nextLine() {
            if line.hasPrefix("ACK") { acknowledgements += 1 }
            if acknowledgements == 5 { break }
        }
        driver.signal(SIGTERM)
        let driverExit = driver.wait()
        XCTAssertEqual(driverExit.status, 0, driverExit.errorOutput)

        let segment = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: data).sorted().last { $0.hasSuffix(".wal") })
        let frames = try SegmentFrames(path: data + "/" + segment)
        let last = try XCTUnwrap(frames.offsets.last)
        let first = try XCTUnwrap(frames.offsets.first)

        // A copy without snapshots and with its first record damaged: nothing covers it, so
        // meterd must refuse, plainly.
        let uncovered = base + "/uncovered"
        try FileManager.default.copyItem(atPath: data, toPath: uncovered)
        for file in try FileManager.default.contentsOfDirectory(atPath: uncovered) where file.hasPrefix("snapshot-") {
            try FileManager.default.removeItem(atPath: uncovered + "/" + file)
        }
        try flipByte(uncovered + "/" + segment, at: first + 24 + 2)
        let refused = try ChildProcess("meterd", ["--data-dir", uncovered, "--socket", base + "/refused.sock", "--no-tcp"])
        let exit = refused.wait()
        XCTAssertNotEqual(exit.status, 0)
        XCTAssertFalse(exit.errorOutput.contains("Usage:"), exit.errorOutput)
        XCTAssertTrue(exit.errorOutput.contains("cannot open") && exit.errorOutput.contains("\(segment) at offset \(first)"), exit.errorOutput)

        // The last record damaged after a clean shutdown: the snapshot covers it, meterd starts.
        try flipByte(data + "/" + segment, at: last + 24 + 2)
        let meterd = try ChildProcess("meterd", ["--data-dir", data, "--socket", base + "/meterd.sock", "--no-tcp"])
        var lines: [String] = []
        while let line = meterd.nextLine() {
            lines.append(line)
            if line.hasPrefix("meterd: listening on") { break }
        }
        XCTAssertTrue(lines.last?.hasPrefix("meterd: listening on") ?? false, "\(lines) \(lines.isEmpty ? meterd.wait().errorOutput : "")")
        XCTAssertTrue(lines.contains { $0.contains("WARNING") && $0.contains("\(segment) at offset \(last)") }, "\(lines)")
        meterd.signal(SIGTERM)
        XCTAssertEqual(meterd.wait().status, 0)
    }

    private func flipByte(_ path: String, at offset: Int) throws {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[offset] ^= 0x20
        try bytes.write(to: URL(fileURLWithPath: path))
    }
}

/// The frame offsets of one segment file (format in docs/log-format.md): a 32-byte header,
/// then frames of 24 bytes plus the payload padded to 8; seals (type 255) are skipped.
struct SegmentFrames {
    var offsets: [Int] = []

    init(path: String) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var offset = 32
        while offset + 24 <= bytes.count {
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
            if bytes[offset + 4] == 0 { break }
            if bytes[offset + 4] != 255 { offsets.append(offset) }
            offset += 24 + (length + 7) / 8 * 8
        }
    }
}
