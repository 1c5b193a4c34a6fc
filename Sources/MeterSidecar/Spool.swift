#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import MeterLog
import MeterProto
import SwiftProtobuf

/// One accepted request's events as they sit in the spool: one log record each.
public struct SpoolEntry: Sendable {
    /// The record's log sequence (the spool position).
    public var sequence: UInt64
    /// When the sidecar accepted the events (Unix ms).
    public var acceptedAtMilliseconds: Int64
    /// The events, every one with an event id (assigned by the sidecar when the client sent none).
    public var events: [Meterd_V1_Event]
    /// Size of the spooled record payload: about what the events take on the wire.
    public var byteCount: Int

    public init(sequence: UInt64, acceptedAtMilliseconds: Int64, events: [Meterd_V1_Event], byteCount: Int = 0) {
        self.sequence = sequence
        self.acceptedAtMilliseconds = acceptedAtMilliseconds
        self.events = events
        self.byteCount = byteCount
    }

    /// Record payload: accepted-at ms (8 bytes, little-endian), then an `IngestBatchRequest`.
    static func encodePayload(acceptedAtMilliseconds: Int64, events: [Meterd_V1_Event]) throws -> [UInt8] {
        var request = Meterd_V1_IngestBatchRequest()
        request.events = events
        let body: [UInt8] = try request.serializedBytes()
        var payload = [UInt8]()
        payload.reserveCapacity(8 + body.count)
        withUnsafeBytes(of: acceptedAtMilliseconds.littleEndian) { payload.append(contentsOf: $0) }
        payload.append(contentsOf: body)
        return payload
    }

    static func decode(sequence: UInt64, payload: [UInt8]) throws -> SpoolEntry {
        guard payload.count >= 8 else { throw SpoolError.failed("spool record \(sequence) is shorter than its header") }
        var stamp: Int64 = 0
        withUnsafeMutableBytes(of: &stamp) { $0.copyBytes(from: payload[0..<8]) }
        let request = try Meterd_V1_IngestBatchRequest(serializedBytes: Array(payload[8...]))
        return SpoolEntry(sequence: sequence, acceptedAtMilliseconds: Int64(littleEndian: stamp), events: request.events, byteCount: payload.count)
    }
}

public enum SpoolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Accepting the request would take the spool past its byte limit.
    case full(String)
    /// The request alone is larger than the spool could ever hold.
    case tooLarge(String)
    /// A write or fsync failed; the spool refuses writes until restart.
    case failed(String)
    /// The sidecar is shutting down.
    case stopped

    public var description: String {
        switch self {
        case .full(let message), .tooLarge(let message), .failed(let message): return message
        case .stopped: return "the sidecar is shutting down"
        }
    }
}

/// The sidecar's disk buffer: a `SegmentedLog` (one record per accepted request) with group
/// commit on a dedicated writer thread (all requests waiting are appended with one write and
/// made durable with one fdatasync before any of them is acknowledged), a byte limit, and
/// trimming of whole segments below the forwarded position.
public final class Spool: @unchecked Sendable {
    public static let recordType: UInt8 = 1
    public static let checkpointName = "forwarded-through"

    public let directory: String
    public let maximumBytes: Int
    public let checkpoint: Checkpoint

    private let log: SegmentedLog
    /// Guards `log` (writer thread appends and syncs; the forwarder trims).
    private let logLock = NSLock()
    /// Guards everything below.
    private let condition = NSCondition()
    private var pending: [Pending] = []
    private var reservedBytes = 0
    private var diskBytes = 0
    private var stopped = false
    private var writerFinished = false
    private var writerStarted = false
    private var failure: String?
    private var syncCount: UInt64 = 0
    private var lastSequenceWritten: UInt64
    private var onDurable: (@Sendable ([SpoolEntry]) -> Void)?

    private struct Pending {
        var payload: [UInt8]
        var entry: SpoolEntry
        var reservation: Int
        var completion: @Sendable (Result<UInt64, SpoolError>) -> Void
    }

    /// Opens (or creates) the spool in `directory` and returns it with the unsent records:
    /// those after the checkpoint.
    public static func open(directory: String, maximumBytes: Int) throws -> (spool: Spool, unsent: [SpoolEntry], forwardedThrough: UInt64, recovery: RecoveryReport) {
        let segmentBytes = Swift.min(Swift.max(maximumBytes / 8, 4096), 16 << 20)
        let (log, recovery) = try SegmentedLog.open(directory: directory, options: LogOptions(segmentSizeBytes: segmentBytes))
        let checkpoint = Checkpoint(path: directory + "/" + checkpointName)
        let forwarded = try checkpoint.read()
        var unsent: [SpoolEntry] = []
        try log.read(from: forwarded + 1) { sequence, record in
            guard record.type == recordType else { return }
            unsent.append(try SpoolEntry.decode(sequence: sequence, payload: record.payload))
        }
        try log.deleteSegments(before: forwarded + 1)
        let spool = Spool(directory: directory, maximumBytes: maximumBytes, log: log, checkpoint: checkpoint)
        spool.diskBytes = spool.measureDiskBytes()
        return (spool, unsent, Swift.min(forwarded, log.lastSequence), recovery)
    }

    private init(directory: String, maximumBytes: Int, log: SegmentedLog, checkpoint: Checkpoint) {
        self.directory = directory
        self.maximumBytes = maximumBytes
        self.log = log
        self.checkpoint = checkpoint
        lastSequenceWritten = log.lastSequence
    }

    /// Starts the writer thread; `onDurable` receives every batch of records once fsynced, in
    /// sequence order, before their requests are acknowledged.
    public func start(onDurable: @escaping @Sendable ([SpoolEntry]) -> Void) {
        condition.lock()
        self.onDurable = onDurable
        writerStarted = true
        condition.unlock()
        let thread = Thread { [self] in writerLoop() }
        thread.name = "meter-sidecar spool writer"
        thread.start()
    }

    /// Appends one request's events and returns their sequence once they are durable.
    public func append(events: [Meterd_V1_Event], acceptedAtMilliseconds: Int64) async throws(SpoolError) -> UInt64 {
        let payload: [UInt8]
        do {
            payload = try SpoolEntry.encodePayload(acceptedAtMilliseconds: acceptedAtMilliseconds, events: events)
        } catch {
            throw .failed("cannot encode the events: \(error)")
        }
        // The frame (24-byte header, padded to 8), plus a seal and a segment header if it rolls.
        let reservation = ((payload.count + 24 + 7) / 8) * 8 + 72
        let result: Result<UInt64, SpoolError> = await withCheckedContinuation { continuation in
            let entry = SpoolEntry(sequence: 0, acceptedAtMilliseconds: acceptedAtMilliseconds, events: events, byteCount: payload.count)
            if let refusal = enqueue(Pending(payload: payload, entry: entry, reservation: reservation, completion: { continuation.resume(returning: $0) })) {
                continuation.resume(returning: .failure(refusal))
            }
        }
        return try result.get()
    }

    private func enqueue(_ item: Pending) -> SpoolError? {
        condition.lock()
        defer { condition.unlock() }
        if stopped { return .stopped }
        if let failure { return .failed("the spool failed and refuses writes until restart: \(failure)") }
        if item.reservation > maximumBytes / 4 {
            return .tooLarge("the request needs \(item.reservation) spool bytes, more than a quarter of --max-spool-bytes (\(maximumBytes)); send smaller batches")
        }
        if diskBytes + reservedBytes + item.reservation > maximumBytes {
            return .full("spool full: \(diskBytes + reservedBytes) of \(maximumBytes) bytes in use while meterd is unreachable or slow; retry later")
        }
        reservedBytes += item.reservation
        pending.append(item)
        condition.signal()
        return nil
    }

    private func writerLoop() {
        while true {
            condition.lock()
            while pending.isEmpty && !stopped { condition.wait() }
            if pending.isEmpty {
                writerFinished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            var group = pending
            pending = []
            let callback = onDurable
            condition.unlock()

            var result: Result<ClosedRange<UInt64>, SpoolError>
            logLock.lock()
            do {
                let range = try log.append(group.map { LogRecord(type: Self.recordType, payload: $0.payload) })
                try log.sync()
                result = .success(range)
            } catch {
                result = .failure(.failed("\(error)"))
            }
            let measured = measureDiskBytes()
            condition.lock()
            diskBytes = measured
            reservedBytes -= group.reduce(0) { $0 + $1.reservation }
            syncCount += 1
            if case .success(let range) = result {
                lastSequenceWritten = range.upperBound
            } else if case .failure(let error) = result {
                failure = error.description
            }
            condition.unlock()
            logLock.unlock()

            switch result {
            case .success(let range):
                for index in group.indices { group[index].entry.sequence = range.lowerBound + UInt64(index) }
                callback?(group.map(\.entry))
                for item in group { item.completion(.success(item.entry.sequence)) }
            case .failure(let error):
                for item in group { item.completion(.failure(error)) }
            }
        }
    }

    /// Deletes the whole segments whose records all lie at or below `forwardedThrough`.
    public func trim(through forwardedThrough: UInt64) throws {
        logLock.lock()
        defer { logLock.unlock() }
        condition.lock()
        let isClosed = writerFinished
        condition.unlock()
        if isClosed { return }
        try log.deleteSegments(before: forwardedThrough + 1)
        let measured = measureDiskBytes()
        condition.lock()
        diskBytes = measured
        condition.unlock()
    }

    /// Stops taking appends, finishes those already queued, and closes the log.
    public func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        if !writerStarted { writerFinished = true }
        while !writerFinished { condition.wait() }
        condition.unlock()
        logLock.lock()
        log.close()
        logLock.unlock()
    }

    public struct Numbers: Sendable {
        public var diskBytes: Int
        public var syncs: UInt64
        public var lastSequence: UInt64
        public var failure: String?
    }

    public var numbers: Numbers {
        condition.lock()
        defer { condition.unlock() }
        return Numbers(diskBytes: diskBytes, syncs: syncCount, lastSequence: lastSequenceWritten, failure: failure)
    }

    /// Bytes of records in the spool's segments. The log preallocates its active segment and
    /// one spare at the segment size (an eighth of the limit each), which is not counted here:
    /// the disk holds up to a quarter of `maximumBytes` more than this. Called with `logLock`
    /// held (or before the writer starts).
    private func measureDiskBytes() -> Int {
        log.segmentSummaries().reduce(0) { $0 + Int($1.usedBytes) }
    }
}
