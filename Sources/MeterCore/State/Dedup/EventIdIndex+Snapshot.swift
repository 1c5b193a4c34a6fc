#if _endian(big)
#error("the exactly-once index is stored in snapshots as little-endian raw arrays")
#endif

extension EventIdIndex {
    /// Writes the kept entries as flat arrays, in position (acceptance) order:
    /// entry count, bucket count, per bucket (number, entry count), then every fingerprint as 16
    /// raw little-endian bytes, then every time offset as 2 raw bytes. Depends only on the
    /// entries, never on the slot table's layout, so equal histories give equal bytes.
    func write(to writer: inout BinaryWriter) {
        writer.write(varint: UInt64(count))
        writer.write(varint: UInt64(bucketNumbers.count - bucketHead))
        for bucket in bucketHead..<bucketNumbers.count {
            let first = Swift.max(bucketFirstPositions[bucket], headPosition)
            let end = bucket + 1 < bucketFirstPositions.count ? bucketFirstPositions[bucket + 1] : tailPosition
            writer.write(signed: bucketNumbers[bucket])
            writer.write(varint: UInt64(end - first))
        }
        forEachKeptRun { fingerprints, _ in writer.write(raw: UnsafeRawBufferPointer(fingerprints)) }
        forEachKeptRun { _, offsets in writer.write(raw: UnsafeRawBufferPointer(offsets)) }
    }

    /// Calls `body` with the kept part of each chunk, in position order.
    private func forEachKeptRun(_ body: (UnsafeBufferPointer<UInt128>, UnsafeBufferPointer<UInt16>) -> Void) {
        for (index, chunk) in chunks.enumerated() {
            let chunkStart = firstChunkPosition + index * Self.chunkSize
            let from = Swift.max(headPosition - chunkStart, 0)
            let to = Swift.min(tailPosition - chunkStart, chunk.fingerprints.count)
            guard from < to else { continue }
            chunk.fingerprints.withUnsafeBufferPointer { fingerprints in
                chunk.offsets.withUnsafeBufferPointer { offsets in
                    body(UnsafeBufferPointer(rebasing: fingerprints[from..<to]), UnsafeBufferPointer(rebasing: offsets[from..<to]))
                }
            }
        }
    }

    /// Reads what `write(to:)` wrote: the arrays are copied chunk by chunk (no allocation per
    /// entry), then the slot table is built from them. Throws on anything inconsistent.
    static func read(from reader: inout BinaryReader) throws(DecodingError) -> EventIdIndex {
        let count = try reader.readVarint()
        // 18 bytes per entry must still be there.
        guard count <= UInt64(reader.remainingCount / 18) else { throw DecodingError("dedup index entry count \(count) exceeds the remaining data") }
        let bucketCount = try reader.readCount()
        var index = EventIdIndex()
        var total = 0
        var previous = Int64.min
        index.bucketNumbers.reserveCapacity(bucketCount)
        index.bucketFirstPositions.reserveCapacity(bucketCount)
        for bucket in 0..<bucketCount {
            let number = try reader.readSigned()
            let entries = try reader.readVarint()
            guard bucket == 0 || number > previous else { throw DecodingError("dedup index buckets out of order") }
            guard entries > 0, entries <= count - UInt64(total) else { throw DecodingError("dedup index bucket sizes do not add up") }
            previous = number
            index.bucketNumbers.append(number)
            index.bucketFirstPositions.append(total)
            total += Int(entries)
        }
        guard total == Int(count) else { throw DecodingError("dedup index bucket sizes do not add up") }
        var chunks: [Chunk] = []
        chunks.reserveCapacity((total + chunkSize - 1) / chunkSize)
        try reader.withRawBytes(count: total * MemoryLayout<UInt128>.size) { (raw: UnsafeRawBufferPointer) -> Void in
            var start = 0
            while start < total {
                let length = Swift.min(chunkSize, total - start)
                var chunk = Chunk()
                chunk.fingerprints = Array(unsafeUninitializedCapacity: chunkSize) { buffer, initialized in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(
                        rebasing: raw[(start * 16)..<((start + length) * 16)]))
                    initialized = length
                }
                chunks.append(chunk)
                start += length
            }
        }
        try reader.withRawBytes(count: total * MemoryLayout<UInt16>.size) { (raw: UnsafeRawBufferPointer) -> Void in
            for chunkIndex in 0..<chunks.count {
                let start = chunkIndex * chunkSize
                let length = Swift.min(chunkSize, total - start)
                chunks[chunkIndex].offsets = Array(unsafeUninitializedCapacity: chunkSize) { buffer, initialized in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(
                        rebasing: raw[(start * 2)..<((start + length) * 2)]))
                    initialized = length
                }
            }
        }
        index.chunks = chunks
        index.headPosition = 0
        index.tailPosition = total
        // Offsets must grow inside each bucket (binary searches rely on it).
        for bucket in 0..<bucketCount {
            let end = bucket + 1 < bucketCount ? index.bucketFirstPositions[bucket + 1] : total
            var previousOffset: UInt16 = 0
            for position in index.bucketFirstPositions[bucket]..<end {
                let offset = index.chunks[position >> chunkShift].offsets[position & (chunkSize - 1)]
                guard offset >= previousOffset else { throw DecodingError("dedup index times out of order in a bucket") }
                previousOffset = offset
            }
        }
        index.rebuild(maximumLoadEighths: 5, shrinking: true)
        return index
    }
}
