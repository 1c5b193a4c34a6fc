import Foundation
import Logging
import MeterCluster
import MeterEngine
import ServiceLifecycle

/// Cluster mode's log as a service: once the engine is open, connects to NATS and starts
/// applying the stream; on graceful shutdown stops applying before the engine stops (it is
/// after the engine in the ServiceGroup, so it is shut down first).
struct ClusterService: Service {
    let log: ClusterLog
    let handle: EngineHandle
    let logger: Logger

    func run() async throws {
        let engine = try await handle.engine()
        let log = self.log
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                Thread { continuation.resume(with: Result { try log.start(engine: engine) }) }.start()
            }
        } catch {
            throw StartupFailure.cannotListen(reason: "cannot join the cluster: \(error)")
        }
        print("meterd: cluster node \(log.options.nodeName) applying stream \(log.options.streamName)")
        fflush(nil)
        try? await gracefulShutdown()
        logger.info("cluster log stopping")
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread { log.stop(); continuation.resume() }.start()
        }
    }
}

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
