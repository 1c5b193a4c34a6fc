// Built with the Cluster trait only (`swift build --traits Cluster`, needs libnats-dev).
#if Cluster
import Foundation
import Logging
import MeterEngine
import MeterLog

/// Snapshots shared through JetStream (docs/cluster.md, "Snapshots"), of partition engines and
/// of the meta engine (`SnapshotScope`), so that a node taking a partition, or starting, begins
/// from the newest one and replays only the stream after it.
///
/// Debian's libnats 3.4 has no object store, so a snapshot is chunked messages on the stream
/// `<stream>_SNAP` (R3, file storage): the state bytes in chunks of at most the server's
/// maximum payload less 1 KiB on `<stream>_SNAP.<scope>.data`, then a manifest
/// (`SnapshotManifest`: the stream sequence covered, the chunks' sequences, the length and
/// CRC-32C of the whole, the publisher's lease revision) on `<stream>_SNAP.<scope>.manifest`.
/// A snapshot exists once its manifest is stored; after it, older snapshots of the scope are
/// purged but the one before (the newest two are kept).
///
/// **Fencing**: right before publishing a manifest the publisher asks `fence` (set by
/// `ClusterNode`: does this node still hold the scope's lease, at which revision?) and publishes
/// nothing when it does not. **Loading** takes, among the newest manifest and those it points
/// back to, the one covering the highest stream sequence whose chunks verify (length and
/// checksum) and whose following stream is still stored (not trimmed): a manifest published
/// late by a node that lost its lease, covering less, is not preferred. A snapshot that fails
/// a check is skipped with a log line.
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
    private var pending: [SnapshotScope: (streamSequence: UInt64, snapshot: CapturedSnapshot)] = [:]
    private var fenceCheck: (@Sendable (SnapshotScope) -> Result<UInt64, NATSError>)?
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

    func dataSubject(_ scope: SnapshotScope) -> String { "\(streamName).\(scope.name).data" }
    func manifestSubject(_ scope: SnapshotScope) -> String { "\(streamName).\(scope.name).manifest" }

    /// Asked right before a manifest is published: the revision of the lease under which this
    /// node may publish `scope`'s snapshot, or a failure saying why it may not (it lost the
    /// lease). nil (the default): every publish goes ahead, with lease revision 0.
    var fence: (@Sendable (SnapshotScope) -> Result<UInt64, NATSError>)? {
        get { condition.withLock { fenceCheck } }
        set { condition.withLock { fenceCheck = newValue } }
    }

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

    /// Queues `snapshot` of `scope` (covering stream sequence `streamSequence`) for
    /// publishing; replaces one of the same scope still waiting.
    func enqueue(_ scope: SnapshotScope, streamSequence: UInt64, snapshot: CapturedSnapshot) {
        condition.lock()
        pending[scope] = (streamSequence, snapshot)
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
            let scope = pending.keys.first!
            let (streamSequence, snapshot) = pending.removeValue(forKey: scope)!
            condition.unlock()
            _ = publish(scope, streamSequence: streamSequence, snapshot: snapshot)
        }
    }

    // MARK: Publishing

    /// Publishes `snapshot` of `scope` now (chunks, then, if `fence` allows, the manifest),
    /// then purges the scope's snapshots older than the previous one. Logs and returns the outcome.
    @discardableResult
    func publish(_ scope: SnapshotScope, streamSequence: UInt64, snapshot: CapturedSnapshot, attempts: Int = 5) -> Result<SnapshotManifest, NATSError> {
        let started = ContinuousClock.now
        let result = publishChunksAndManifest(scope, streamSequence: streamSequence, snapshot: snapshot, attempts: attempts)
        let elapsed = ContinuousClock.now - started
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        switch result {
        case .success(let manifest):
            condition.withLock { publishedCount += 1 }
            // Tests and operators read this line.
            print("meterd: cluster node \(nodeName) published snapshot of \(scope) through stream sequence \(streamSequence) "
                  + "(\(snapshot.bytes.count) bytes in \(manifest.chunks.count) chunks, \(milliseconds) ms)")
            fflush(nil)
            logger.info("published snapshot", metadata: [
                "scope": "\(scope.name)", "through": "\(streamSequence)", "bytes": "\(snapshot.bytes.count)", "milliseconds": "\(milliseconds)"])
        case .failure(let error):
            logger.warning("could not publish a snapshot (the next one is tried on schedule)", metadata: [
                "scope": "\(scope.name)", "through": "\(streamSequence)", "error": "\(error)"])
        }
        return result
    }

    private func publishChunksAndManifest(_ scope: SnapshotScope, streamSequence: UInt64, snapshot: CapturedSnapshot, attempts: Int) -> Result<SnapshotManifest, NATSError> {
        let previous: (sequence: UInt64, manifest: SnapshotManifest?)?
        switch connection.lastMessage(stream: streamName, subject: manifestSubject(scope)) {
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
            switch publishRetrying(subject: dataSubject(scope), data: Array(snapshot.bytes[offset..<end]), messageId: "\(idPrefix)-\(chunks.count)", attempts: attempts) {
            case .success(let sequence): chunks.append(sequence)
            case .failure(let error): return .failure(error)
            }
            offset = end
        } while offset < snapshot.bytes.count
        // Fencing: a node that lost the lease publishes no manifest (its chunks are purged
        // with the next snapshot's).
        var leaseRevision: UInt64 = 0
        if let fence {
            switch fence(scope) {
            case .success(let revision): leaseRevision = revision
            case .failure(let refusal):
                // Tests and operators read this line.
                print("meterd: cluster node \(nodeName) refused to publish a snapshot of \(scope) through stream sequence \(streamSequence): \(refusal)")
                fflush(nil)
                return .failure(NATSError(message: "snapshot of \(scope) not published: \(refusal)"))
            }
        }
        let manifest = SnapshotManifest(scope: scope, streamSequence: streamSequence, engineSequence: snapshot.sequence,
                                        byteCount: snapshot.bytes.count, checksum: CRC32C.checksum(snapshot.bytes), chunks: chunks,
                                        previous: previous?.sequence ?? 0, node: nodeName, leaseRevision: leaseRevision)
        if case .failure(let error) = publishRetrying(subject: manifestSubject(scope), data: Array(manifest.text.utf8), messageId: "\(idPrefix)-manifest", attempts: attempts) {
            return .failure(error)
        }
        // Keep this snapshot and the one before it; older manifests and chunks go.
        _ = connection.purge(stream: streamName, subject: manifestSubject(scope), keep: 2)
        let keepChunksFrom = previous?.manifest?.chunks.first ?? chunks.first!
        // (NATS 2.9 takes a purge "below 1" as "everything on the subject".)
        if keepChunksFrom > 1 { _ = connection.purge(stream: streamName, subject: dataSubject(scope), below: keepChunksFrom) }
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

    /// The best snapshot of `scope` that verifies (every chunk present on the scope's data
    /// subject, the length and the CRC-32C of the whole), with its manifest; nil when there is
    /// none. Candidates are the newest manifest and the ones it points back to (`previous`);
    /// the one covering the highest stream sequence wins, so that a manifest published late
    /// (by a node that had lost its lease) covering less is not preferred. One whose following
    /// stream is no longer stored (it covers less than `firstSequence - 1`: the stream was
    /// trimmed behind newer snapshots) cannot be used. Each snapshot skipped is logged with why.
    func loadNewest(_ scope: SnapshotScope, firstSequence: UInt64 = 1) -> (manifest: SnapshotManifest, snapshot: CapturedSnapshot)? {
        var candidates: [(sequence: UInt64, manifest: SnapshotManifest)] = []
        var next: UInt64? = nil
        for _ in 0..<4 {
            let read = next.map { connection.message(stream: streamName, sequence: $0) }
                ?? connection.lastMessage(stream: streamName, subject: manifestSubject(scope))
            switch read {
            case .success(.some): break
            case .success(nil):
                if let next { skipped(scope, "the previous manifest at \(next) is purged") }
            case .failure(let error):
                // A snapshot stream that does not exist yet (a new cluster) holds nothing.
                if !error.description.contains("stream not found") { skipped(scope, "\(error)") }
            }
            guard case .success(let message?) = read else { break }
            guard message.subject == manifestSubject(scope) else {
                skipped(scope, "message \(message.sequence) is on \(message.subject), not a manifest of \(scope)")
                break
            }
            let manifest: SnapshotManifest
            do {
                manifest = try SnapshotManifest(text: String(decoding: message.data, as: UTF8.self))
            } catch {
                // Without a readable manifest there is no pointer to an older one either.
                skipped(scope, "manifest \(message.sequence): \(error)")
                break
            }
            candidates.append((message.sequence, manifest))
            guard manifest.previous > 0 else { break }
            next = manifest.previous
        }
        // Highest coverage first; of equal ones, the later manifest.
        candidates.sort { ($0.manifest.streamSequence, $0.sequence) > ($1.manifest.streamSequence, $1.sequence) }
        for (sequence, manifest) in candidates {
            let what = "snapshot through stream sequence \(manifest.streamSequence) (manifest \(sequence))"
            if manifest.streamSequence + 1 < firstSequence {
                skipped(scope, "\(what): the stream after it is trimmed (it starts at sequence \(firstSequence))")
                continue
            }
            switch verify(manifest, scope: scope) {
            case .success(let bytes):
                return (manifest, CapturedSnapshot(sequence: manifest.engineSequence, bytes: bytes))
            case .failure(let problem):
                skipped(scope, "\(what): \(problem.description)")
            }
        }
        return nil
    }

    private func verify(_ manifest: SnapshotManifest, scope: SnapshotScope) -> Result<[UInt8], ManifestError> {
        guard manifest.scope == scope else { return .failure(ManifestError("it names \(manifest.scope)")) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(manifest.byteCount)
        for sequence in manifest.chunks {
            switch connection.message(stream: streamName, sequence: sequence) {
            case .success(let chunk?) where chunk.subject == dataSubject(scope):
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

    private func skipped(_ scope: SnapshotScope, _ reason: String) {
        // Tests and operators read this line.
        print("meterd: cluster node \(nodeName) skipped a snapshot of \(scope): \(reason)")
        fflush(nil)
        logger.warning("skipped a snapshot", metadata: ["scope": "\(scope.name)", "reason": "\(reason)"])
    }
}
#endif
