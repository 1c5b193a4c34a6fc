import ArgumentParser
import Foundation
import MeterCore
import MeterEngine
import MeterServer

/// `meterd`: the metering server. With no arguments it keeps its data in ./meterd-data,
/// listens on ./meterd.sock and on 127.0.0.1:7878, and acknowledges only after fsync.
@main
struct Meterd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meterd",
        abstract: "meterd: exact, durable usage metering over a Unix socket and TCP.",
        discussion: """
            Every option can also come from --config FILE: one "name = value" per line, using the
            long option names without dashes (for example "durability = interval:50"); '#' starts
            a comment. Options on the command line win over the file.
            """)

    @Option(name: .long, help: "Configuration file of 'name = value' lines.")
    var config: String?

    @Option(name: .long, help: "Directory of the write-ahead log and snapshots (default ./meterd-data).")
    var dataDir: String?

    @Option(name: .long, help: "Unix-domain socket path (default ./meterd.sock).")
    var socket: String?

    @Flag(name: .long, help: "Do not listen on a Unix-domain socket.")
    var noSocket = false

    @Option(name: .long, help: "Permission bits of the socket file, octal (default 600).")
    var socketMode: String?

    @Option(name: .long, help: "TCP address HOST:PORT (default 127.0.0.1:7878; port 0 picks one).")
    var tcp: String?

    @Flag(name: .long, help: "Do not listen on TCP.")
    var noTcp = false

    @Option(name: .long, help: "fsync (default: acknowledge after fdatasync), interval[:MS] (fdatasync at most every MS ms, default 100; acks may run ahead of durability), none (tests only).")
    var durability: String?

    @Option(name: .long, help: "Largest frame payload in bytes (default 4194304).")
    var maxFrameBytes: Int?

    @Option(name: .long, help: "Most events in one IngestBatch (default 10000).")
    var maxBatchEvents: Int?

    @Option(name: .long, help: "Most requests in flight per connection (default 64).")
    var maxInFlight: Int?

    @Option(name: .long, help: "Most open connections (default 1024).")
    var maxConnections: Int?

    @Option(name: .long, help: "Seconds without traffic before a connection is closed (default 300).")
    var idleTimeoutSeconds: Int?

    @Option(name: .long, help: "Seconds a new connection has to send its preface and handshake (default 10).")
    var handshakeTimeoutSeconds: Int?

    @Option(name: .long, help: "Most events queued for the writer before RESOURCE_EXHAUSTED (default 1000000).")
    var queueEvents: Int?

    @Option(name: .long, help: "Write a snapshot every N log records (default 50000).")
    var snapshotEveryRecords: Int?

    @Option(name: .long, help: "...but only once the log grew by this percentage of the previous snapshot's size, so large states are not re-written every N records (default 100; 0 turns the rule off).")
    var snapshotLogGrowthPercent: Int?

    @Option(name: .long, help: "Delete log segments older than this many hours once a snapshot covers them (default 168).")
    var retentionHours: Int?

    @Option(name: .long, help: "Oldest accepted event timestamp, in seconds before now (default 86400).")
    var lateWindowSeconds: Int?

    @Option(name: .long, help: "How far in the future an event timestamp may be, in seconds (default 300).")
    var futureSkewSeconds: Int?

    @Option(name: .long, help: "How long event ids are remembered for exactly-once, in seconds (default 172800; at least late window + future skew).")
    var dedupWindowSeconds: Int?

    @Flag(name: .long, help: "Open a log with corruption in the middle by cutting it there (loses what follows; a copy is kept).")
    var repair = false

    mutating func run() async throws {
        let settings = try Settings(command: self)
        let engine: MeterEngine
        do {
            engine = try MeterEngine.open(options: settings.engine)
        } catch {
            // Not a usage error: no usage banner, just the reason and a failing exit code.
            Self.printError("meterd: error: cannot open \(settings.engine.dataDirectory): \(error)")
            throw ExitCode(2)
        }
        print("meterd: \(engine.recovery)")
        for problem in engine.recovery.problems {
            print("meterd: \(problem)")
            Self.printError("meterd: \(problem)")
        }
        let server = MeterServer(engine: engine, configuration: settings.server)
        let endpoints: [MeterServer.Endpoint]
        do {
            endpoints = try await server.start()
        } catch {
            await engine.shutdown()
            Self.printError("meterd: error: cannot listen: \(error)")
            throw ExitCode(2)
        }
        print("meterd: listening on \(endpoints.map(\.description).joined(separator: " and ")) (data \(settings.engine.dataDirectory), durability \(settings.engine.durability))")
        fflush(nil)
        await waitForTermination()
        print("meterd: shutting down")
        await server.shutdown()
        await engine.shutdown()
        print("meterd: stopped")
    }

    /// Writes `line` to standard error.
    private static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Returns on SIGTERM or SIGINT.
    private func waitForTermination() async {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumed = ResumeOnce(continuation)
            for number in [SIGTERM, SIGINT] {
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { resumed.resume() }
                source.resume()
                SignalSources.keep(source)
            }
        }
    }
}

/// Resumes a continuation at most once, whichever signal comes first.
final class ResumeOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Void, Never>?

    init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = continuation }

    func resume() {
        lock.lock()
        let pending = continuation
        continuation = nil
        lock.unlock()
        pending?.resume()
    }
}

/// Keeps signal sources alive for the life of the process.
enum SignalSources {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []
    static func keep(_ source: DispatchSourceSignal) { sources.append(source) }
}
