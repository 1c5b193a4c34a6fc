import Foundation
import MeterTestSupport
import XCTest

extension TemporaryDirectory {
    /// A fresh directory for `testCase`, removed when the test ends.
    convenience init(_ testCase: XCTestCase) throws {
        try self.init("meterlog-test", removedBy: { testCase.addTeardownBlock($0) })
    }

    /// The names of segment files, sorted.
    func segmentNames() throws -> [String] {
        try names().filter { $0.hasPrefix("log-") && $0.hasSuffix(".wal") }
    }
}

/// The whole content of the file at `path`.
func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Replaces the file at `path` with `bytes`.
func writeBytes(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Sets the size of the file at `path`.
func truncateFile(_ path: String, to length: Int) throws {
    guard truncate(path, off_t(length)) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
}

/// The size of the file at `path`.
func fileSize(_ path: String) throws -> Int {
    (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
}
