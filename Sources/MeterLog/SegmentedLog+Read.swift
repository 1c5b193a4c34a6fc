extension SegmentedLog {
    /// Calls `body` with every retained record whose sequence is at least `sequence`, in
    /// order, reading the segment files (for replay at startup and for backfill).
    ///
    /// Records before `firstSequence` were deleted and are silently absent; compare with
    /// `firstSequence` first when that matters. Each segment is read with large `pread`s into
    /// one buffer and every frame is checked again, so damage since open throws
    /// `LogError.corruption`. Records appended by `body` are not visited; `body` must not
    /// delete segments.
    public func read(from sequence: UInt64, _ body: (UInt64, LogRecord) throws -> Void) throws {
        if case .closed = state { preconditionFailure("SegmentedLog used after close()") }
        let buffer = ByteBuffer()
        for segment in segments where segment.recordCount > 0 && segment.lastSequence >= sequence {
            let bytes = try buffer.readFile(joinPath(directory, segment.name), byteCount: segment.byteCount, files: files)
            guard bytes.count == segment.byteCount else {
                throw LogError.corruption(
                    segment: segment.name,
                    offset: Int64(bytes.count),
                    reason: "file is shorter than the \(segment.byteCount) bytes validated when the log opened"
                )
            }
            let header: SegmentHeader
            switch SegmentHeader.decode(bytes) {
            case let .success(decoded) where decoded.firstSequence == segment.firstSequence:
                header = decoded
            case .success:
                throw LogError.corruption(segment: segment.name, offset: 0, reason: "segment header changed since the log opened")
            case let .failure(problem):
                throw LogError.corruption(segment: segment.name, offset: 0, reason: problem.description)
            }
            let scan = try SegmentScanner.scan(bytes, header: header) { recordSequence, type, payload in
                if recordSequence >= sequence {
                    try body(recordSequence, LogRecord(type: type, payload: Array(payload)))
                }
            }
            if let (offset, problem) = scan.problem {
                throw LogError.corruption(segment: segment.name, offset: Int64(offset), reason: problem.description)
            }
        }
    }
}
