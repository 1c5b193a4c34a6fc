/// What the log knows about one segment file without reading it.
struct SegmentInfo: Equatable {
    var name: String
    var firstSequence: UInt64
    /// `firstSequence - 1` while the segment holds no record.
    var lastSequence: UInt64
    var recordCount: UInt64
    /// The length of the valid bytes, header and seal included.
    var byteCount: Int64
    var isSealed: Bool
    /// The chain value after the segment's last frame; the next segment's header repeats it.
    var finalChecksum: UInt32
    /// The header's format version; version 2 and later are preallocated.
    var version: UInt32

    var isPreallocated: Bool { version >= LogFormat.firstPreallocatedVersion }

    init(name: String, scan: SegmentScan) {
        self.name = name
        firstSequence = scan.header.firstSequence
        lastSequence = scan.lastSequence
        recordCount = scan.recordCount
        byteCount = Int64(scan.validByteCount)
        isSealed = scan.isSealed
        finalChecksum = scan.finalChecksum
        version = scan.header.version
    }

    /// A new, empty segment.
    init(name: String, header: SegmentHeader) {
        self.init(name: name, scan: SegmentScan(header: header))
    }
}
