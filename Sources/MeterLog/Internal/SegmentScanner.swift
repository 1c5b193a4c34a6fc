/// What a scan of one segment's bytes found: how far the records are valid and, if they stop
/// before the end of the bytes, where and why.
struct SegmentScan {
    var header: SegmentHeader
    var recordCount: UInt64 = 0
    /// The last valid record's sequence; `header.firstSequence - 1` when there is none.
    var lastSequence: UInt64
    /// The chain value after the last valid frame (the seal's checksum when sealed).
    var finalChecksum: UInt32
    /// Where the last valid frame ends.
    var validByteCount = LogFormat.segmentHeaderByteCount
    var isSealed = false
    /// The first offset whose bytes are not the next valid frame, if any.
    var problem: (offset: Int, problem: FrameProblem)?

    init(header: SegmentHeader) {
        self.header = header
        lastSequence = header.firstSequence &- 1
        finalChecksum = header.previousChecksum
    }
}

/// Walks the frames of a segment, checking each frame's checksum, its sequence and its chain
/// link, and finds out whether any valid frame lies beyond a bad one.
enum SegmentScanner {
    /// Scans `bytes` (a whole segment, header already validated as `header`) up to the first
    /// problem, calling `visit` with the sequence, type and payload of every data record.
    /// In a preallocated segment, bytes that are all zeros from some frame boundary to the end
    /// are unused space, not a problem: the records end there.
    static func scan(
        _ bytes: UnsafeRawBufferPointer,
        header: SegmentHeader,
        visit: (UInt64, UInt8, UnsafeRawBufferPointer) throws -> Void
    ) rethrows -> SegmentScan {
        var scan = try scanFrames(bytes, header: header, visit: visit)
        if let (offset, _) = scan.problem, header.isPreallocated, isAllZero(bytes, from: offset) {
            scan.problem = nil
        }
        return scan
    }

    @inline(__always)
    private static func scanFrames(
        _ bytes: UnsafeRawBufferPointer,
        header: SegmentHeader,
        visit: (UInt64, UInt8, UnsafeRawBufferPointer) throws -> Void
    ) rethrows -> SegmentScan {
        var scan = SegmentScan(header: header)
        var offset = LogFormat.segmentHeaderByteCount
        while offset < bytes.count {
            if scan.isSealed {
                scan.problem = (offset, .bytesAfterSeal)
                return scan
            }
            let frame: Frame
            switch FrameCodec.check(bytes, at: offset) {
            case let .success(checked): frame = checked
            case let .failure(problem):
                scan.problem = (offset, problem)
                return scan
            }
            guard frame.previousChecksum == scan.finalChecksum else {
                scan.problem = (offset, .brokenChain(stored: frame.previousChecksum, expected: scan.finalChecksum))
                return scan
            }
            let payload = UnsafeRawBufferPointer(
                rebasing: bytes[(offset &+ LogFormat.frameHeaderByteCount)..<(offset &+ LogFormat.frameHeaderByteCount &+ frame.payloadByteCount)]
            )
            if frame.type == LogFormat.sealType {
                if let problem = sealProblem(frame, payload: payload, scan: scan) {
                    scan.problem = (offset, problem)
                    return scan
                }
                scan.isSealed = true
            } else {
                guard frame.sequence == scan.lastSequence &+ 1 else {
                    scan.problem = (offset, .unexpectedSequence(found: frame.sequence, expected: scan.lastSequence &+ 1))
                    return scan
                }
                try visit(frame.sequence, frame.type, payload)
                scan.recordCount &+= 1
                scan.lastSequence = frame.sequence
            }
            scan.finalChecksum = frame.checksum
            offset &+= frame.byteCount
            scan.validByteCount = offset
        }
        return scan
    }

    /// Searches `bytes` from `offset` on, at every frame-aligned position, for a frame that
    /// validates on its own and carries a sequence of at least `minimumSequence`. Such a frame
    /// means the damage at `offset` is not a torn tail: something written after it survived.
    static func findValidFrame(
        in bytes: UnsafeRawBufferPointer,
        from offset: Int,
        minimumSequence: UInt64
    ) -> (offset: Int, sequence: UInt64)? {
        precondition(offset % LogFormat.alignment == 0, "frames are aligned")
        var candidate = offset
        while candidate &+ LogFormat.frameHeaderByteCount <= bytes.count {
            defer { candidate &+= LogFormat.alignment }
            // Each frame takes at least 24 bytes, so no sequence beyond this bound can be real;
            // the cheap test keeps the checksum off most garbage positions.
            let sequence = bytes.readInteger(UInt64.self, at: candidate &+ 8)
            let maximumSequence = minimumSequence &+ UInt64((bytes.count &- offset) / LogFormat.frameHeaderByteCount) &+ 1
            guard sequence >= minimumSequence, sequence <= maximumSequence else { continue }
            if case .success = FrameCodec.check(bytes, at: candidate) {
                return (candidate, sequence)
            }
        }
        return nil
    }

    /// Why a seal frame does not close a segment that holds `scan`'s records, if it does not.
    private static func sealProblem(_ frame: Frame, payload: UnsafeRawBufferPointer, scan: SegmentScan) -> FrameProblem? {
        guard payload.count == LogFormat.sealPayloadByteCount else {
            return .badSeal("payload is \(payload.count) bytes, expected \(LogFormat.sealPayloadByteCount)")
        }
        let recordCount = payload.readInteger(UInt64.self, at: 0)
        let lastSequence = payload.readInteger(UInt64.self, at: 8)
        guard frame.sequence == scan.lastSequence, lastSequence == scan.lastSequence else {
            return .badSeal("seals through sequence \(lastSequence) (frame \(frame.sequence)), segment ends at \(scan.lastSequence)")
        }
        guard recordCount == scan.recordCount else {
            return .badSeal("counts \(recordCount) records, segment holds \(scan.recordCount)")
        }
        return nil
    }
}
