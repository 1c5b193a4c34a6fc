import ArgumentParser
import MeterClient
import MeterCore
import MeterProto

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `meterctl ingest [FILE|-]`: sends NDJSON usage events in batches.
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Send usage events from an NDJSON file or standard input.",
        discussion: """
            One event per line:
              {"event_id": "evt-1", "event_name": "tokens_used", "customer_id": "cust-42",
               "timestamp": "2026-01-31T12:00:00Z", "properties": {"model": "llama3.1", "tokens": 25.5},
               "source": "api"}

            Numbers are read exactly: 25.5 is sent as the decimal "25.5", never as floating point. \
            "timestamp" is RFC 3339 or Unix milliseconds; without it the event happens now. \
            Events go in batches (--batch-size), several batches in flight; a batch refused with a \
            retryable status is sent again, which is safe because the server counts an event id \
            once. Re-running the same input is safe for the same reason.

            Prints "accepted N, duplicates N, rejected N" and each rejected event with its reason. \
            Malformed lines are reported on standard error with their line number and skipped; \
            the exit status is then 1.
            """
    )

    /// Batches sent at once at most (further bounded by the server's in-flight limit).
    static let batchesInFlight = 4
    /// Attempts for a batch refused with RESOURCE_EXHAUSTED, UNAVAILABLE or a deadline.
    static let attemptsPerBatch = 6

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("NDJSON file of events, or - for standard input (the default).", valueName: "file"))
    var file: String?

    @Option(help: ArgumentHelp("Events per IngestBatch request (at most the server's limit).", valueName: "count"))
    var batchSize = 1_000

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() async throws {
        let reader = try LineReader(path: file)
        if reader.isTerminal {
            printToStandardError("meterctl: reading NDJSON events from the terminal; end with Ctrl-D")
        }
        let requestedBatchSize = batchSize
        var summary = IngestSummary()
        var failure: MeterClientError?
        try await connection.withClient { client in
            let batchSize = min(requestedBatchSize, client.serverLimits.maximumBatchEvents)
            let window = max(1, min(Self.batchesInFlight, client.serverLimits.maximumInFlight))
            var progress = ProgressLine(isEnabled: standardErrorIsTerminal)
            let decoder = EventLineDecoder(parseTimestamp: { CivilTime.parseRFC3339($0) })
            await withTaskGroup(of: BatchOutcome.self) { group in
                var inFlight = 0
                var batch = EventBatch()
                var lineNumber = 0
                /// Records one finished batch; returns false once a batch has failed for good.
                func record(_ outcome: BatchOutcome) -> Bool {
                    inFlight -= 1
                    switch outcome.result {
                    case .success(let response):
                        summary.add(response, for: outcome.batch)
                        progress.show(summary)
                        return true
                    case .failure(let error):
                        failure = failure ?? error
                        return false
                    }
                }
                reading: while failure == nil {
                    let line = reader.nextLine()
                    if let line {
                        lineNumber += 1
                        do {
                            if let event = try decoder.decode(line: line) {
                                batch.append(event, lineNumber: lineNumber)
                            }
                        } catch {
                            summary.malformedLines += 1
                            progress.clear()
                            printToStandardError("line \(lineNumber): \(error)")
                        }
                    }
                    guard batch.events.count >= batchSize || (line == nil && !batch.events.isEmpty) else {
                        if line == nil { break reading }
                        continue
                    }
                    while inFlight >= window, let outcome = await group.next() {
                        if !record(outcome) { break reading }
                    }
                    let sending = batch
                    batch = EventBatch()
                    inFlight += 1
                    group.addTask { await Self.send(sending, client: client) }
                    if line == nil { break reading }
                }
                while let outcome = await group.next() {
                    _ = record(outcome)
                }
            }
            progress.clear()
        }
        summary.rejections.sort { $0.lineNumber < $1.lineNumber }
        printSummary(summary)
        if let failure {
            throw CommandFailure(
                "\(failure)\n(the counts above are the events acknowledged before the failure; sending the same input again is safe: accepted event ids come back as duplicates)")
        }
        if summary.malformedLines > 0 {
            printToStandardError("meterctl: skipped \(summary.malformedLines) malformed line\(summary.malformedLines == 1 ? "" : "s")")
            throw ExitCode(1)
        }
    }

    /// Sends one batch, retrying statuses that ask for it (with the same event ids, so safely).
    static func send(_ batch: EventBatch, client: MeterClient) async -> BatchOutcome {
        var attempt = 1
        while true {
            do {
                return BatchOutcome(batch: batch, result: .success(try await client.ingestBatch(batch.events)))
            } catch {
                var retryable = error.isRetryable
                if case .connection = error { retryable = false }  // the connection is gone
                guard retryable, attempt < attemptsPerBatch, !Task.isCancelled else {
                    return BatchOutcome(batch: batch, result: .failure(error))
                }
                try? await Task.sleep(for: .milliseconds(100 << attempt))
                attempt += 1
            }
        }
    }

    private func printSummary(_ summary: IngestSummary) {
        if connection.json {
            print(JSONOutput.object([
                ("accepted", .integer(summary.accepted)),
                ("duplicates", .integer(summary.duplicates)),
                ("rejected", .integer(summary.rejected)),
                ("malformed_lines", .integer(summary.malformedLines)),
                ("rejected_events", .array(summary.rejections.map { rejection in
                    .object([
                        ("line", .integer(Int64(rejection.lineNumber))),
                        ("event_id", .string(rejection.eventId)),
                        ("reason", .string(rejection.reason)),
                        ("message", .string(rejection.message)),
                    ])
                })),
            ]).rendered())
            return
        }
        print("accepted \(summary.accepted), duplicates \(summary.duplicates), rejected \(summary.rejected)")
        for rejection in summary.rejections {
            let reason = rejection.message.isEmpty ? rejection.reason : "\(rejection.reason): \(rejection.message)"
            print("  line \(rejection.lineNumber): event \(rejection.eventId) rejected: \(reason)")
        }
    }
}

/// Events on their way to the server, with the input line each came from.
struct EventBatch: Sendable {
    var events: [Meterd_V1_Event] = []
    var lineNumbers: [Int] = []

    mutating func append(_ event: Meterd_V1_Event, lineNumber: Int) {
        events.append(event)
        lineNumbers.append(lineNumber)
    }
}

/// A batch and what the server said about it.
struct BatchOutcome: Sendable {
    var batch: EventBatch
    var result: Result<Meterd_V1_IngestBatchResponse, MeterClientError>
}

/// Totals over the whole input.
struct IngestSummary {
    struct Rejection {
        var lineNumber: Int
        var eventId: String
        var reason: String
        var message: String
    }

    var accepted: Int64 = 0
    var duplicates: Int64 = 0
    var rejected: Int64 = 0
    var malformedLines: Int64 = 0
    var rejections: [Rejection] = []

    var sent: Int64 { accepted + duplicates + rejected }

    mutating func add(_ response: Meterd_V1_IngestBatchResponse, for batch: EventBatch) {
        accepted += Int64(response.accepted)
        duplicates += Int64(response.duplicates)
        rejected += Int64(response.rejected)
        for (index, result) in response.results.enumerated() where result.status == .rejected && index < batch.events.count {
            rejections.append(Rejection(
                lineNumber: batch.lineNumbers[index], eventId: batch.events[index].eventID, reason: result.reason, message: result.message))
        }
    }
}

/// A one-line progress display on standard error, redrawn in place at most ten times a
/// second; only on a terminal.
struct ProgressLine {
    let isEnabled: Bool
    private var isShown = false
    private let clock = ContinuousClock()
    private var lastDrawn: ContinuousClock.Instant?

    init(isEnabled: Bool) {
        self.isEnabled = isEnabled
    }

    mutating func show(_ summary: IngestSummary) {
        guard isEnabled else { return }
        let now = clock.now
        if let lastDrawn, now - lastDrawn < .milliseconds(100) { return }
        lastDrawn = now
        writeToStandardError("\r\u{1B}[2Ksent \(summary.sent) events: accepted \(summary.accepted), duplicates \(summary.duplicates), rejected \(summary.rejected)")
        isShown = true
    }

    mutating func clear() {
        guard isShown else { return }
        writeToStandardError("\r\u{1B}[2K")
        isShown = false
    }
}

/// Reads lines, as bytes, from a file or standard input.
final class LineReader {
    private let file: UnsafeMutablePointer<FILE>
    private var buffer: UnsafeMutablePointer<CChar>?
    private var capacity = 0
    /// Whether the input is a terminal (a person typing).
    let isTerminal: Bool

    /// Opens `path`, or standard input for nil or `-`.
    init(path: String?) throws {
        if let path, path != "-" {
            guard let file = fopen(path, "r") else {
                throw CommandFailure("cannot open \(path): \(String(cString: strerror(errno)))")
            }
            self.file = file
            isTerminal = false
        } else {
            guard let file = fdopen(0, "r") else {
                throw CommandFailure("cannot read standard input: \(String(cString: strerror(errno)))")
            }
            self.file = file
            isTerminal = isatty(0) == 1
        }
    }

    deinit {
        free(buffer)
        fclose(file)
    }

    /// The next line including its newline, or nil at the end of the input.
    func nextLine() -> UnsafeRawBufferPointer? {
        let count = getline(&buffer, &capacity, file)
        guard count >= 0, let buffer else { return nil }
        return UnsafeRawBufferPointer(start: buffer, count: count)
    }
}
