// Built with the Cluster trait only (`swift build --traits Cluster`, needs libnats-dev).
#if Cluster
import Foundation
import Logging
import MeterEngine
import MeterLog

/// Partition snapshots shared through JetStream (docs/cluster.md, "Snapshots"), so that a node
/// taking a partition starts from the newest one and replays only the stream after it.
///
/// Debian's libnats 3.4 has no object store, so a snapshot is chunked messages on the stream
/// `<stream>_SNAP` (R3, file storage): the state bytes in chunks of at most the server's
/// maximum payload less 1 KiB on `<stream>_SNAP.p<N>.data`, then a manifest
/// (`SnapshotManifest`: the stream sequence covered, the chunks' sequences, the length and
/// CRC-32C of the whole) on `<stream>_SNAP.p<N>.manifest`. A snapshot exists once its manifest
/// is stored; after it, older snapshots of the partition are purged but the one before (the
/// newest two are kept). Loading takes the newest manifest and checks every chunk, the length
/// and the checksum; a snapshot that fails any check is skipped with a log line, for the one
/// before it, then for the stream's start.
///
/// Publishing runs on a thread of its own (`enqueue`): the applier that captured the state
/// goes on at once. Thread-safe.
final class PartitionSnapshots: @unchecked Sendable {
    let connection: JetStreamConnection
    let streamName: String
    private let nodeName: String
    private let logger: Logger
    private let runId = String(UInt64.random(in: 0...UInt64.max), radix: 36)

    private let condition = NSCondition()
    private var pending: [Int: (streamSequence: UInt64, snapshot: CapturedSnapshot)] = [:]
    private var published: UInt64 = 0
    private var stopping = false
    private var running = false
    /// Snapshots published and bytes, for tests and logs.
    private(set) var publishedCount = 0

    init(connection: JetStreamConnection, options: ClusterOptions, logger: Logger) {
        self.connection = connection
        streamName = "\(options.streamName)_SNAP"
        nodeName = options.nodeName
        self.logger = logger
    }

    func dataSubject(_ partition: Int) -> String { "\(streamName).p\(partition).data" }
    func manifestSubject(_ partition: Int) -> String { "\(streamName).p\(partition).manifest" }

    /// Creates the snapshot stream when missing and starts the publishing thread.
    func start(replicas: Int, deadline: Date) throws(NATSError) {
        try connection.ensureStream(name: streamName, subjects: ["\(streamName).>"], replicas: replicas, duplicateWindowSeconds: 120, deadline: deadline)
        condition.withLock { running = true }
        let thread = Thread { [self] in
            runPublisher()
            condition.withLock {
                running = false
                condition.broadcast()
            }
        }
        thread.name = "meterd-snapshots"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Stops the publishing thread (a snapshot being published is finished first; queued ones are dropped).
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running { condition.wait() }
        pending.removeAll()
        condition.unlock()
    }

    /// Queues `snapshot` of `partition` (covering stream sequence `streamSequence`) for
    /// publishing; replaces one of the same partition still waiting.
    func enqueue(partition: Int, streamSequence: UInt64, snapshot: CapturedSnapshot) {
        condition.lock()
        pending[partition] = (streamSequence, snapshot)
        condition.broadcast()
        condition.unlock()
    }

    private func runPublisher() {
        while true {
            condition.lock()
            while pending.isEmpty && !stopping { condition.wait() }
            if stopping {
                condition.unlock()
                return
            }
            let partition = pending.keys.min()!
            let (streamSequence, snapshot) = pending.removeValue(forKey: partition)!
            condition.unlock()
            _ = publish(partition: partition, streamSequence: streamSequence, snapshot: snapshot)
        }
    }

    // MARK: Publishing

    /// Publishes `snapshot` of `partition` now (chunks, then the manifest), then purges the
    /// partition's snapshots older than the previous one. Logs and returns the outcome.
    @discardableResult
    func publish(partition: Int, streamSequence: UInt64, snapshot: CapturedSnapshot, attempts: Int = 5) -> Result<SnapshotManifest, NATSError> {
        let started = ContinuousClock.now
        let result = publishChunksAndManifest(partition: partition, streamSequence: streamSequence, snapshot: snapshot, attempts: attempts)
        let elapsed = ContinuousClock.now - started
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        switch result {
        case .success(let manifest):
            condition.withLock { publishedCount += 1 }
            // Tests and operators read this line.
            print("meterd: cluster node \(nodeName) published snapshot of partition \(partition) through stream sequence \(streamSequence) "
                  + "(\(snapshot.bytes.count) bytes in \(manifest.chunks.count) chunks, \(milliseconds) ms)")
            fflush(nil)
            logger.info("published partition snapshot", metadata: [
                "partition": "\(partition)", "through": "\(streamSequence)", "bytes": "\(snapshot.bytes.count)", "milliseconds": "\(milliseconds)"])
        case .failure(let error):
            logger.warning("could not publish a partition snapshot (the next one is tried on schedule)", metadata: [
                "partition": "\(partition)", "through": "\(streamSequence)", "error": "\(error)"])
        }
        return result
    }

    private func publishChunksAndManifest(partition: Int, streamSequence: UInt64, snapshot: CapturedSnapshot, attempts: Int) -> Result<SnapshotManifest, NATSError> {
        let previous: (sequence: UInt64, manifest: SnapshotManifest?)?
        switch connection.lastMessage(stream: streamName, subject: manifestSubject(partition)) {
        case .success(let message?): previous = (message.sequence, try? SnapshotManifest(text: String(decoding: message.data, as: UTF8.self)))
        case .success(nil): previous = nil
        case .failure(let error): return .failure(error)
        }
        let number = condition.withLock { () -> UInt64 in
            published += 1
            return published
        }
        let idPrefix = "\(nodeName)-\(runId)-snapshot-\(number)"
        let chunkSize = max(4096, connection.maxPayload - 1024)
        var chunks: [UInt64] = []
        var offset = 0
        repeat {
            let end = min(offset + chunkSize, snapshot.bytes.count)
            switch publishRetrying(subject: dataSubject(partition), data: Array(snapshot.bytes[offset..<end]), messageId: "\(idPrefix)-\(chunks.count)", attempts: attempts) {
            case .success(let sequence): chunks.append(sequence)
            case .failure(let error): return .failure(error)
            }
            offset = end
        } while offset < snapshot.bytes.count
        let manifest = SnapshotManifest(partition: partition, streamSequence: streamSequence, engineSequence: snapshot.sequence,
                                        byteCount: snapshot.bytes.count, checksum: CRC32C.checksum(snapshot.bytes), chunks: chunks,
                                        previous: previous?.sequence ?? 0, node: nodeName)
        if case .failure(let error) = publishRetrying(subject: manifestSubject(partition), data: Array(manifest.text.utf8), messageId: "\(idPrefix)-manifest", attempts: attempts) {
            return .failure(error)
        }
        // Keep this snapshot and the one before it; older manifests and chunks go.
        _ = connection.purge(stream: streamName, subject: manifestSubject(partition), keep: 2)
        let keepChunksFrom = previous?.manifest?.chunks.first ?? chunks.first!
        // (NATS 2.9 takes a purge "below 1" as "everything on the subject".)
        if keepChunksFrom > 1 { _ = connection.purge(stream: streamName, subject: dataSubject(partition), below: keepChunksFrom) }
        return .success(manifest)
    }

    /// Publishes with the same message id up to `attempts` times (JetStream drops a copy that
    /// was stored already).
    private func publishRetrying(subject: String, data: [UInt8], messageId: String, attempts: Int) -> Result<UInt64, NATSError> {
        var attempt = 0
        while true {
            attempt += 1
            switch connection.publish(subject: subject, data: data, messageId: messageId, timeoutMilliseconds: 2_000) {
            case .success(let acknowledgement): return .success(acknowledgement.sequence)
            case .failure(let error):
                if attempt >= attempts || condition.withLock({ stopping }) { return .failure(error) }
                usleep(useconds_t(200_000 * attempt))
            }
        }
    }

    // MARK: Loading

    /// The newest snapshot of `partition` that verifies (every chunk present on the partition's
    /// data subject, the length and the CRC-32C of the whole), with its manifest; nil when
    /// there is none. Each snapshot skipped on the way is logged with why.
    func loadNewest(partition: Int) -> (manifest: SnapshotManifest, snapshot: CapturedSnapshot)? {
        var next: UInt64? = nil
        for _ in 0..<4 {
            let read = next.map { connection.message(stream: streamName, sequence: $0) }
                ?? connection.lastMessage(stream: streamName, subject: manifestSubject(partition))
            let message: StoredMessage
            switch read {
            case .success(let found?): message = found
            case .success(nil):
                if next != nil { skipped(partition, "the previous manifest at \(next!) is purged") }
                return nil
            case .failure(let error):
                skipped(partition, "\(error)")
                return nil
            }
            guard message.subject == manifestSubject(partition) else {
                skipped(partition, "message \(message.sequence) is on \(message.subject), not a manifest of this partition")
                return nil
            }
            let manifest: SnapshotManifest
            do {
                manifest = try SnapshotManifest(text: String(decoding: message.data, as: UTF8.self))
            } catch {
                // Without a readable manifest there is no pointer to an older one either.
                skipped(partition, "manifest \(message.sequence): \(error)")
                return nil
            }
            switch verify(manifest, partition: partition) {
            case .success(let bytes):
                return (manifest, CapturedSnapshot(sequence: manifest.engineSequence, bytes: bytes))
            case .failure(let problem):
                skipped(partition, "snapshot through stream sequence \(manifest.streamSequence) (manifest \(message.sequence)): \(problem.description)")
            }
            guard manifest.previous > 0 else { return nil }
            next = manifest.previous
        }
        return nil
    }

    private func verify(_ manifest: SnapshotManifest, partition: Int) -> Result<[UInt8], ManifestError> {
        guard manifest.partition == partition else { return .failure(ManifestError("it names partition \(manifest.partition)")) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(manifest.byteCount)
        for sequence in manifest.chunks {
            switch connection.message(stream: streamName, sequence: sequence) {
            case .success(let chunk?) where chunk.subject == dataSubject(partition):
                bytes.append(contentsOf: chunk.data)
            case .success(let chunk?):
                return .failure(ManifestError("chunk \(sequence) is on \(chunk.subject)"))
            case .success(nil):
                return .failure(ManifestError("chunk \(sequence) is missing"))
            case .failure(let error):
                return .failure(ManifestError("chunk \(sequence) cannot be read: \(error)"))
            }
            if bytes.count > manifest.byteCount { break }
        }
        guard bytes.count == manifest.byteCount else {
            return .failure(ManifestError("its chunks hold \(bytes.count) bytes, the manifest says \(manifest.byteCount)"))
        }
        let checksum = CRC32C.checksum(bytes)
        guard checksum == manifest.checksum else {
            return .failure(ManifestError("CRC-32C \(String(checksum, radix: 16)) of its bytes, the manifest says \(String(manifest.checksum, radix: 16))"))
        }
        return .success(bytes)
    }

    private func skipped(_ partition: Int, _ reason: String) {
        // Tests and operators read this line.
        print("meterd: cluster node \(nodeName) skipped a snapshot of partition \(partition): \(reason)")
        fflush(nil)
        logger.warning("skipped a partition snapshot", metadata: ["partition": "\(partition)", "reason": "\(reason)"])
    }
}
#endif
