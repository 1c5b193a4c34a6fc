// Built with the Cluster trait only (`swift test --traits Cluster`): needs libnats and nats-server.
#if Cluster
import Foundation
import Logging
@testable import MeterCluster
import MeterCore
import MeterEngine
import MeterLog
import XCTest

/// One nats-server with JetStream (a child process on a random loopback port, in a temporary
/// directory), the stream `METERD` (R1) and partition engines applying it with `LogApplier`s,
/// for the snapshot tests. Everything is stopped and removed at the test's teardown.
final class SnapshotHarness {
    let directory: String
    let server: Process
    let connection: JetStreamConnection
    let log: ClusterLog
    let snapshots: PartitionSnapshots
    let key = DedupKey.random()
    private var engines = 0

    /// A partition engine applying the stream (stopped after each `replay`).
    final class Replay {
        let engine: MeterEngine
        let clock: LogClock
        var applier: LogApplier
        var records: UInt64
        init(engine: MeterEngine, clock: LogClock, applier: LogApplier, records: UInt64) {
            self.engine = engine
            self.clock = clock
            self.applier = applier
            self.records = records
        }
    }

    init(_ test: XCTestCase) throws {
        guard let path = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"].first(where: FileManager.default.isExecutableFile)
        else { throw XCTSkip("nats-server is not installed (scripts/test installs it: apt-get install nats-server)") }
        directory = NSTemporaryDirectory() + "meterd-snapshots-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/jetstream", withIntermediateDirectories: true)
        let logPath = directory + "/nats.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        server = Process()
        server.executableURL = URL(fileURLWithPath: path)
        server.arguments = ["-a", "127.0.0.1", "-p", "-1", "-js", "-sd", directory + "/jetstream"]
        server.standardOutput = output
        server.standardError = output
        try server.run()
        try output.close()
        let server = self.server
        let directory = self.directory
        test.addTeardownBlock {
            server.terminate()
            server.waitUntilExit()
            try? FileManager.default.removeItem(atPath: directory)
        }
        // Its port, from "Listening for client connections on 127.0.0.1:PORT".
        let deadline = Date(timeIntervalSinceNow: 30)
        var port: Int?
        while port == nil {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if text.contains("Server is ready"), let range = text.range(of: "client connections on 127.0.0.1:") {
                port = Int(text[range.upperBound...].prefix { $0.isNumber })
            }
            guard Date() < deadline, server.isRunning else { throw XCTSkip("nats-server did not start: \(text)") }
            if port == nil { usleep(20_000) }
        }
        var options = ClusterOptions(servers: ["nats://127.0.0.1:\(port!)"], nodeName: "test")
        options.replicas = 1
        options.partitions = 2
        connection = try JetStreamConnection(servers: options.servers, name: "snapshot-test", deadline: deadline)
        try connection.ensureStream(name: options.streamName, subjects: ["\(options.subjectPrefix).>"], replicas: 1,
                                    duplicateWindowSeconds: 600, deadline: deadline)
        log = ClusterLog(options: options, logger: Logger(label: "test"))
        snapshots = PartitionSnapshots(connection: connection, options: options, logger: Logger(label: "test"))
        try snapshots.start(replicas: 1, deadline: deadline)
        test.addTeardownBlock { [snapshots] in snapshots.stop() }
    }

    var now: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Publishes `bytes` on `subject` (any stream's); its sequence.
    @discardableResult
    func publish(_ bytes: [UInt8], subject: String) throws -> UInt64 {
        try connection.publish(subject: subject, data: bytes, messageId: UUID().uuidString, timeoutMilliseconds: 5_000).get().sequence
    }

    /// Appends `record` to the log as a node's write would be.
    func append(_ record: StateRecord, subject: String) throws {
        let encoded = RecordCodec.encode(record)
        try publish([ClusterLog.messageFormatVersion, encoded.type] + encoded.payload, subject: subject)
    }

    /// Appends a batch of events (customer c0..c4 by id), `tokens` each; the tokens it adds
    /// (all of them: the caller knows which ids are new).
    func ingest(partition: Int, ids: [String], tokens: Int) throws -> Int {
        let events = ids.enumerated().map { index, id in
            UsageEvent(eventId: id, eventName: "tokens_used", customerId: "c\(index % 5)", timestampMilliseconds: now,
                       properties: [EventProperty(key: "tokens", value: .integer(Int64(tokens)))])
        }
        try append(.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: now, events: events), subject: log.partitionSubject(partition))
        return ids.count * tokens
    }

    /// A new engine of partition 0 (from `seed` when given) applying the stream after
    /// `startAfter` through `through`.
    func replay(seed: CapturedSnapshot? = nil, startAfter: UInt64, through: UInt64) throws -> Replay {
        engines += 1
        let engineDirectory = "\(directory)/engine-\(engines)"
        try FileManager.default.createDirectory(atPath: engineDirectory, withIntermediateDirectories: true)
        if let seed { try MeterEngine.seed(directory: engineDirectory, with: seed) }
        var options = EngineOptions(dataDirectory: engineDirectory)
        options.durability = .none
        options.core.dedupKey = key
        options.snapshotEveryRecords = .max
        options.snapshotEverySeconds = 100 * 365 * 86_400
        let clock = LogClock()
        options.clock = { clock.read() }
        let engine = try MeterEngine.open(options: options)
        let replay = Replay(engine: engine, clock: clock, applier: applier(engine, clock), records: 0)
        replay.applier.start(connection: connection, log: log, streamName: "METERD", subjectPrefix: "meterd.log", startAfter: startAfter)
        try replay.applier.waitUntilApplied(through)
        replay.applier.stop()
        replay.records = replay.applier.appliedRecords
        return replay
    }

    /// Goes on applying `replay`'s stream through `through`.
    func continueReplay(_ replay: Replay, through: UInt64) throws {
        let from = replay.applier.appliedThrough
        replay.applier = applier(replay.engine, replay.clock)
        replay.applier.start(connection: connection, log: log, streamName: "METERD", subjectPrefix: "meterd.log", startAfter: from)
        try replay.applier.waitUntilApplied(through)
        replay.applier.stop()
        replay.records += replay.applier.appliedRecords
    }

    private func applier(_ engine: MeterEngine, _ clock: LogClock) -> LogApplier {
        LogApplier(name: "p0", engine: engine, clock: clock, homeSubject: log.partitionSubject(0), metaSubject: log.metaSubject, logger: Logger(label: "test"))
    }

    func capture(_ engine: MeterEngine) throws -> CapturedSnapshot? {
        try wait { engine.captureSnapshot(completion: $0) }.get()
    }

    /// The meter tokens_used's total over every customer.
    func total(_ engine: MeterEngine) throws -> ExactDecimal {
        let hour: Int64 = 3_600_000
        let query = UsageQuery(meter: .eventName("tokens_used"), fromMilliseconds: (now - 86_400_000) / hour * hour, toMilliseconds: (now / hour + 2) * hour)
        let result = wait { (completion: @escaping @Sendable (Result<UsageResult, EngineError>) -> Void) in
            Task {
                do throws(EngineError) {
                    completion(.success(try await engine.usage(query)))
                } catch {
                    completion(.failure(error))
                }
            }
        }
        return try result.get().rows.first?.value ?? ExactDecimal(0)
    }

    /// The meter counting `eventName`.
    func meter(_ engine: MeterEngine, eventName: String) throws -> Meter {
        let result = wait { (completion: @escaping @Sendable (Result<Meter, EngineError>) -> Void) in
            Task {
                do throws(EngineError) {
                    completion(.success(try await engine.meter(.eventName(eventName))))
                } catch {
                    completion(.failure(error))
                }
            }
        }
        return try result.get()
    }

    func wait<Value: Sendable>(_ body: (@escaping @Sendable (Value) -> Void) -> Void) -> Value {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Value?
        body { value in
            result = value
            done.signal()
        }
        done.wait()
        return result!
    }

    func close(_ replay: Replay) {
        let engine = replay.engine
        let _: Bool = wait { completion in
            Task {
                await engine.shutdown()
                completion(true)
            }
        }
    }
}
#endif
