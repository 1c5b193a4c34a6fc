import Foundation

/// A fresh directory (mode 0700) under the system temporary directory, for one test. Removed
/// by `remove()`; a test registers that as a teardown block:
/// `let directory = try TemporaryDirectory("meterlog", removedBy: addTeardownBlock)`.
public final class TemporaryDirectory: Sendable {
    public let path: String

    /// A fresh directory whose name starts with `prefix`; the caller removes it (`remove()`).
    public init(_ prefix: String) throws {
        let root = NSTemporaryDirectory().hasSuffix("/") ? String(NSTemporaryDirectory().dropLast()) : NSTemporaryDirectory()
        var template = Array((root + "/" + prefix + "-XXXXXX").utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard created != nil else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// - Parameters:
    ///   - prefix: the start of the directory's name, to tell tests' leftovers apart.
    ///   - register: called with the removal (XCTest's `addTeardownBlock`).
    public convenience init(_ prefix: String, removedBy register: (_ teardown: @escaping () -> Void) -> Void) throws {
        try self.init(prefix)
        register { [self] in remove() }
    }

    /// Removes the directory and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// `path/name`.
    public func file(_ name: String) -> String { path + "/" + name }

    /// The names in the directory, sorted.
    public func names() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }
}
