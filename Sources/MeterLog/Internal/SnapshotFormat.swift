/// Snapshot file format: a 32-byte header, then the snapshot bytes.
///
///     offset size field
///          0    8 magic "MTRSNAP1"
///          8    8 sequence (must match the file name)
///         16    8 length of the snapshot bytes (file size must be 32 + length)
///         24    4 checksum: CRC-32C of bytes 0..<24, then the snapshot bytes
///         28    4 reserved, zero
///         32    n snapshot bytes
///
/// Files are named `snapshot-<sequence, 20 zero-padded digits>.snap`; while being written
/// they carry a further `.tmp` suffix and are never read.
enum SnapshotFormat {
    static let magic = LogFormat.magic("MTRSNAP1")
    static let headerByteCount = 32
    static let prefix = "snapshot-"
    static let suffix = ".snap"
    static let temporarySuffix = ".snap.tmp"

    static func name(sequence: UInt64) -> String { prefix + zeroPadded(sequence) + suffix }

    static func sequence(ofName name: String) -> UInt64? {
        parseZeroPadded(name, prefix: prefix, suffix: suffix)
    }

    static func header(sequence: UInt64, bytes: [UInt8]) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: headerByteCount)
        header.withUnsafeMutableBytes { header in
            header.storeBytes(of: magic.littleEndian, toByteOffset: 0, as: UInt64.self)
            header.storeBytes(of: sequence.littleEndian, toByteOffset: 8, as: UInt64.self)
            header.storeBytes(of: UInt64(bytes.count).littleEndian, toByteOffset: 16, as: UInt64.self)
            var checksum = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: header[0..<24]))
            checksum = bytes.withUnsafeBytes { CRC32C.update(checksum, $0) }
            header.storeBytes(of: checksum.littleEndian, toByteOffset: 24, as: UInt32.self)
        }
        return header
    }

    /// The snapshot in `file`, whose name declares `nameSequence`, or why it is invalid.
    static func decode(_ file: UnsafeRawBufferPointer, nameSequence: UInt64) -> Result<Snapshot, SnapshotProblem> {
        guard file.count >= headerByteCount else {
            return .failure(SnapshotProblem("file has \(file.count) bytes, less than the \(headerByteCount)-byte header"))
        }
        guard file.readInteger(UInt64.self, at: 0) == magic else { return .failure(SnapshotProblem("magic is not MTRSNAP1")) }
        let sequence = file.readInteger(UInt64.self, at: 8)
        guard sequence == nameSequence else {
            return .failure(SnapshotProblem("header sequence \(sequence) does not match the file name"))
        }
        let length = file.readInteger(UInt64.self, at: 16)
        guard length == UInt64(file.count - headerByteCount) else {
            return .failure(SnapshotProblem("header length \(length) does not match the \(file.count - headerByteCount) bytes present"))
        }
        guard file.readInteger(UInt32.self, at: 28) == 0 else { return .failure(SnapshotProblem("reserved bytes are not zero")) }
        let body = UnsafeRawBufferPointer(rebasing: file[headerByteCount...])
        let stored = file.readInteger(UInt32.self, at: 24)
        let computed = CRC32C.update(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: file[0..<24])), body)
        guard stored == computed else {
            return .failure(SnapshotProblem("checksum mismatch: stored \(hex(stored)), computed \(hex(computed))"))
        }
        return .success(Snapshot(sequence: sequence, bytes: Array(body)))
    }
}

/// Why a snapshot file did not validate.
struct SnapshotProblem: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}
