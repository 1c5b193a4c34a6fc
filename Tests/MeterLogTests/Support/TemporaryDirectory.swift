import Foundation
import XCTest

/// A fresh directory under the system temporary directory, removed when the test ends.
final class TemporaryDirectory {
    let path: String

    init(_ testCase: XCTestCase) throws {
        let template = NSTemporaryDirectory() + "meterlog-test-XXXXXX"
        var bytes = Array(template.utf8CString)
        let created = bytes.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard created != nil else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        path = String(decoding: bytes.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let path = self.path
        testCase.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    }

    /// `path/name`.
    func file(_ name: String) -> String { path + "/" + name }

    /// The names in the directory, sorted.
    func names() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
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
