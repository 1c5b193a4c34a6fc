import Foundation
import Logging
#if Cluster
import MeterCluster
#endif
import MeterEngine
import ServiceLifecycle

#if Cluster
/// Cluster mode's log as a service: once the engine is open, connects to NATS and starts
/// applying the stream's meta subject; once the node has applied everything the stream held at
/// start, starts taking partition leases (`ClusterNode`) and hands
/// the engine to `serving` (the listeners wait for it, so a node that restarts answers nothing
/// stale). On graceful shutdown gives its leases back and stops the partitions' engines, then
/// stops applying before the engine stops (it is after the
/// engine in the ServiceGroup, so it is shut down first).
struct ClusterService: Service {
    let log: ClusterLog
    /// Holds partition leases and runs the partitions' engines; started once caught up.
    let node: ClusterNode
    let handle: EngineHandle
    let serving: EngineHandle
    let logger: Logger

    func run() async throws {
        let engine: MeterEngine
        do {
            engine = try await handle.engine()
        } catch {
            serving.resolve(.failure(error))
            throw error
        }
        let log = self.log
        let started = ContinuousClock.now
        let lastSequence: UInt64
        do {
            lastSequence = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<UInt64, any Error>) in
                Thread {
                    continuation.resume(with: Result {
                        let last = try log.start(engine: engine)
                        try log.waitUntilApplied(last)
                        try node.start()
                        return last
                    })
                }.start()
            }
        } catch {
            let failure = StartupFailure.cannotListen(reason: "cannot join the cluster: \(error)")
            serving.resolve(.failure(failure))
            throw failure
        }
        let elapsed = ContinuousClock.now - started
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        let origin = log.metaSnapshot.map { "from the meta snapshot through \($0.streamSequence)" } ?? "from the stream's start"
        print("meterd: cluster node \(log.options.nodeName) caught up with stream \(log.options.streamName) through \(lastSequence) in \(milliseconds) ms "
              + "(\(origin), \(log.metaRecordsApplied) meta records replayed)")
        fflush(nil)
        logger.info("caught up with the cluster log", metadata: ["through": "\(lastSequence)", "milliseconds": "\(milliseconds)"])
        serving.resolve(.success(engine))
        try? await gracefulShutdown()
        logger.info("cluster log stopping")
        await node.stop()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread { log.stop(); continuation.resume() }.start()
        }
    }
}
#endif

/// The engine directory of a cluster node, rebuilt from the stream at every start.
enum ClusterReplicaDirectory {
    /// Deletes and recreates `path` (only a directory named cluster-replica, which cluster
    /// mode owns: a single node's data directory is never touched).
    static func reset(_ path: String) throws {
        guard (path as NSString).lastPathComponent == "cluster-replica" else {
            throw ValidationErrorText("refusing to reset \(path): not a cluster-replica directory")
        }
        let files = FileManager.default
        if files.fileExists(atPath: path) { try files.removeItem(atPath: path) }
        try files.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
}

/// A start-up problem told as it is.
struct ValidationErrorText: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
