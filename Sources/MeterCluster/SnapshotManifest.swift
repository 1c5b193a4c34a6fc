/// The last message of a snapshot shared through JetStream (docs/cluster.md, "Snapshots"), of
/// a partition's engine or of the meta engine: which stream sequence the snapshot covers,
/// where its chunks are, and the lease revision its publisher checked right before publishing
/// it (fencing). A snapshot counts only once its manifest is stored, and is used only when its
/// chunks add up to `byteCount` bytes with checksum `checksum` (CRC-32C of the whole).
///
/// Text, one `key value` per line after the format line, so that an operator can read it with
/// `nats stream get`. Unknown format lines are refused, never guessed at.
public struct SnapshotManifest: Sendable, Equatable {
    /// Version of this layout (the first line: `meterd-partition-snapshot 2`). Version 2
    /// names a scope (`p3` or `meta`) instead of a partition number and adds the lease revision.
    public static let formatVersion = 2
    static let formatLine = "meterd-partition-snapshot"

    /// The engine the snapshot is of: an event partition's or the meta engine.
    public var scope: SnapshotScope
    /// The stream (the log) sequence the snapshot covers: the state after applying every
    /// message of the meta subject and of the partition's subject up to and including it.
    public var streamSequence: UInt64
    /// The engine's own log position of the state (its snapshot file's sequence).
    public var engineSequence: UInt64
    /// Length of the snapshot bytes.
    public var byteCount: Int
    /// CRC-32C of the snapshot bytes.
    public var checksum: UInt32
    /// Sequences, in the snapshot stream, of the chunks, in order.
    public var chunks: [UInt64]
    /// The snapshot stream sequence of the partition's previous manifest (0: none), to fall back to.
    public var previous: UInt64
    /// The node that published it.
    public var node: String
    /// The revision of the lease (in `<stream>_OWNERS`) under which `node` published it, read
    /// right before the manifest was published (0: not fenced, as in tests).
    public var leaseRevision: UInt64

    public init(scope: SnapshotScope, streamSequence: UInt64, engineSequence: UInt64, byteCount: Int, checksum: UInt32,
                chunks: [UInt64], previous: UInt64, node: String, leaseRevision: UInt64 = 0) {
        self.scope = scope
        self.leaseRevision = leaseRevision
        self.streamSequence = streamSequence
        self.engineSequence = engineSequence
        self.byteCount = byteCount
        self.checksum = checksum
        self.chunks = chunks
        self.previous = previous
        self.node = node
    }

    public var text: String {
        """
        \(Self.formatLine) \(Self.formatVersion)
        scope \(scope.name)
        stream-sequence \(streamSequence)
        engine-sequence \(engineSequence)
        bytes \(byteCount)
        crc32c \(String(checksum, radix: 16))
        chunks \(chunks.map(String.init).joined(separator: " "))
        previous \(previous)
        node \(node)
        lease-revision \(leaseRevision)

        """
    }

    /// Parses a manifest; throws saying what is wrong (another format version, a missing or
    /// malformed field).
    public init(text: String) throws(ManifestError) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard let first = lines.first, first.hasPrefix(Self.formatLine + " ") else {
            throw ManifestError("not a meterd partition snapshot manifest")
        }
        guard Int(first.dropFirst(Self.formatLine.count + 1)) == Self.formatVersion else {
            throw ManifestError("manifest format \(first.dropFirst(Self.formatLine.count + 1)) is not the version \(Self.formatVersion) this meterd reads")
        }
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            fields[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        func field(_ name: String) throws(ManifestError) -> String {
            guard let value = fields[name] else { throw ManifestError("manifest without \(name)") }
            return value
        }
        func number(_ name: String) throws(ManifestError) -> UInt64 {
            guard let value = UInt64(try field(name)) else { throw ManifestError("manifest \(name) is not a number") }
            return value
        }
        guard let scope = SnapshotScope(name: try field("scope")) else { throw ManifestError("manifest scope is not p<N> or meta") }
        self.scope = scope
        streamSequence = try number("stream-sequence")
        engineSequence = try number("engine-sequence")
        byteCount = Int(try number("bytes"))
        guard let checksum = UInt32(try field("crc32c"), radix: 16) else { throw ManifestError("manifest crc32c is not hexadecimal") }
        self.checksum = checksum
        var chunks: [UInt64] = []
        for item in try field("chunks").split(separator: " ") {
            guard let sequence = UInt64(item) else { throw ManifestError("manifest chunk \(item) is not a sequence") }
            chunks.append(sequence)
        }
        self.chunks = chunks
        previous = try number("previous")
        node = try field("node")
        leaseRevision = try number("lease-revision")
    }
}

/// A manifest that does not parse.
public struct ManifestError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
