import ArgumentParser
import Foundation
import MeterClient
import MeterSidecar

/// `meter-sidecar`: runs beside a service, takes its events on a local Unix socket (the meterd
/// protocol), acknowledges them once fsynced in a local spool, and forwards them to meterd.
@main
struct MeterSidecarCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meter-sidecar",
        abstract: "Local spool and batching forwarder in front of meterd.",
        discussion: """
            Clients connect to --listen and speak the meterd protocol. Ingest and IngestBatch are \
            acknowledged (every event ACCEPTED) as soon as the events are fsynced in the spool; \
            events without an event_id get a unique id (sc-<random>-<n>) that is spooled with them, \
            so every resend carries the same id and meterd counts it once. Health.Check answers \
            SERVING with a message of key=value pairs (spool_events, spool_bytes, oldest_unsent_ms, \
            batches_sent, retries, dead_letters, events_forwarded, forwarded_through, last_spooled, \
            upstream); Health.ServerInfo reports last_applied_sequence = newest spool position, \
            first_retained_sequence = forwarded position + 1, group_commits = batches sent, syncs = \
            spool fsyncs. Every other method is answered UNIMPLEMENTED: send admin and query calls \
            to meterd. Events meterd rejects go to the dead-letter file with their reason. When \
            the spool reaches --max-spool-bytes, clients get RESOURCE_EXHAUSTED until meterd drains \
            it. SIGTERM/SIGINT: stop accepting, send what is spooled within --shutdown-timeout-seconds, \
            keep the rest for the next start.
            """)

    @Option(name: .long, help: "Unix-domain socket to listen on.")
    var listen = "./meter-sidecar.sock"

    @Option(name: .long, help: "meterd's address: unix:PATH or HOST:PORT.")
    var upstream = "unix:./meterd.sock"

    @Option(name: .long, help: "Spool directory.")
    var spoolDir = "./meter-sidecar-spool"

    @Option(name: .long, help: "Send a batch once it holds this many events.")
    var batchEvents = 1000

    @Option(name: .long, help: "Or send it once its oldest event waited this many milliseconds.")
    var batchMilliseconds = 50

    @Option(name: .long, help: "Most batches sent to meterd and not yet answered.")
    var maxInFlightBatches = 4

    @Option(name: .long, help: "Most bytes of spool files; beyond, clients get RESOURCE_EXHAUSTED.")
    var maxSpoolBytes = 1 << 30

    @Option(name: .long, help: "NDJSON file of events meterd rejected, with the reason (default <spool-dir>/dead-letter.ndjson).")
    var deadLetter: String?

    @Option(name: .long, help: "Tenant the events are forwarded for; clients must name it or none in their handshake.")
    var tenant = "default"

    @Option(name: .long, help: "Credential for meterd's handshake.")
    var credential = ""

    @Option(name: .long, help: "Longest backoff between retries while meterd is down or busy, in milliseconds.")
    var maxBackoffMilliseconds = 2000

    @Option(name: .long, help: "Seconds SIGTERM may spend forwarding the spool before exiting.")
    var shutdownTimeoutSeconds = 10

    func validate() throws {
        guard MeterAddress(parsing: upstream) != nil else { throw ValidationError("--upstream must be unix:PATH or HOST:PORT, got \"\(upstream)\"") }
        guard batchEvents > 0, batchEvents <= 10_000 else { throw ValidationError("--batch-events must be 1...10000") }
        guard batchMilliseconds >= 0 else { throw ValidationError("--batch-milliseconds must not be negative") }
        guard maxInFlightBatches > 0 else { throw ValidationError("--max-in-flight-batches must be positive") }
        guard maxSpoolBytes >= 16_384 else { throw ValidationError("--max-spool-bytes must be at least 16384") }
        guard maxBackoffMilliseconds > 0 else { throw ValidationError("--max-backoff-milliseconds must be positive") }
        guard shutdownTimeoutSeconds >= 0 else { throw ValidationError("--shutdown-timeout-seconds must not be negative") }
    }

    func run() async throws {
        var configuration = SidecarConfiguration(listenPath: listen, upstream: MeterAddress(parsing: upstream)!, spoolDirectory: spoolDir)
        configuration.maximumSpoolBytes = maxSpoolBytes
        configuration.deadLetterPath = deadLetter
        configuration.tenantId = tenant
        configuration.credential = credential
        configuration.forwarder.batchEvents = batchEvents
        configuration.forwarder.batchWindow = .milliseconds(batchMilliseconds)
        configuration.forwarder.maximumInFlightBatches = maxInFlightBatches
        configuration.forwarder.maximumBackoff = .milliseconds(maxBackoffMilliseconds)
        configuration.shutdownTimeout = .seconds(shutdownTimeoutSeconds)

        let sidecar: Sidecar
        do {
            sidecar = try Sidecar(configuration: configuration)
        } catch {
            throw ValidationError("cannot open the spool \(spoolDir): \(error)")
        }
        do {
            try await sidecar.start()
        } catch {
            _ = await sidecar.shutdown()
            throw ValidationError("cannot listen on \(listen): \(error)")
        }
        print("meter-sidecar: listening on unix:\(listen), forwarding to \(configuration.upstream) for tenant \(tenant) (spool \(spoolDir), \(sidecar.recoveredEvents) unsent events recovered)")
        fflush(nil)
        await waitForTermination()
        print("meter-sidecar: shutting down")
        fflush(nil)
        let summary = await sidecar.shutdown()
        print("meter-sidecar: stopped (\(summary.drained ? "spool drained" : "\(summary.unsentEvents) events kept in the spool"))")
        fflush(nil)
    }

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

enum SignalSources {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []
    static func keep(_ source: DispatchSourceSignal) { sources.append(source) }
}

