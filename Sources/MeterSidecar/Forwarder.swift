import Foundation
import MeterClient
import MeterProto
import MeterWire
import SwiftProtobuf
import Synchronization

/// How the forwarder batches and retries.
public struct ForwarderOptions: Sendable {
    /// A batch is sent once it holds this many events...
    public var batchEvents = 1000
    /// ...or once its oldest event has waited this long.
    public var batchWindow: Duration = .milliseconds(50)
    /// Most batches sent to meterd and not yet answered.
    public var maximumInFlightBatches = 4
    /// Backoff after a failed attempt: starts here, doubles, with jitter...
    public var initialBackoff: Duration = .milliseconds(50)
    /// ...up to this.
    public var maximumBackoff: Duration = .seconds(2)
    /// A batch is also cut before it exceeds this many bytes of events, so that it stays well
    /// inside meterd's frame limit (4 MiB by default).
    public var batchBytes = 2 << 20
    /// Deadline of one IngestBatch call to meterd.
    public var callTimeout: Duration = .seconds(30)

    public init() {}
}

/// Exponential backoff with jitter: attempt n waits a random time in [d/2, d], where
/// d = min(maximum, initial × 2^n).
public struct Backoff: Sendable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
    }

    public func delay(attempt: Int, random: Double = Double.random(in: 0...1)) -> Duration {
        let factor = Double(1 << Swift.min(attempt, 30))
        let ceiling = Swift.min(maximum.seconds * 1.0, initial.seconds * factor)
        return .seconds(ceiling * (0.5 + 0.5 * random))
    }
}

extension Duration {
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}

/// Holds the one connection to meterd, replacing it after it breaks. MeterClient never
/// reconnects by itself: after a connection error or GOAWAY a new client is made.
actor Upstream {
    let address: MeterAddress
    let tenantId: String
    let credential: String
    let tls: MeterClientTLS?
    private var client: MeterClient?
    private var connecting: Task<Result<MeterClient, MeterClientError>, Never>?

    init(address: MeterAddress, tenantId: String, credential: String, tls: MeterClientTLS? = nil) {
        self.address = address
        self.tenantId = tenantId
        self.credential = credential
        self.tls = tls
    }

    var isConnected: Bool { client?.isConnected ?? false }

    func get() async throws(MeterClientError) -> MeterClient {
        if let client, client.isConnected { return client }
        if let connecting { return try await connecting.value.get() }
        let address = address, tenantId = tenantId, credential = credential, tls = tls
        let task = Task { () -> Result<MeterClient, MeterClientError> in
            do throws(MeterClientError) {
                return .success(try await MeterClient.connect(to: address, tenantId: tenantId, clientName: "meter-sidecar", credential: credential, tls: tls, timeout: .seconds(5)))
            } catch {
                return .failure(error)
            }
        }
        connecting = task
        let result = await task.value
        connecting = nil
        if case .success(let fresh) = result {
            if let old = client { Task { await old.close() } }
            client = fresh
        }
        return try result.get()
    }

    /// Drops `broken` so that the next call connects again.
    func invalidate(_ broken: MeterClient) {
        guard client === broken else { return }
        client = nil
        Task { await broken.close() }
    }

    func close() async {
        if let client { await client.close() }
        client = nil
    }
}

/// Sends spooled events to meterd in batches: by size or by time, at most N batches in flight,
/// retrying with backoff (same event ids) until meterd answers, sending per-event rejections to
/// the dead-letter file, and advancing the forwarded position over every record whose batch is
/// done (in order: the position never passes an unfinished batch).
public final class Forwarder: Sendable {
    public let options: ForwarderOptions
    private let upstream: Upstream
    private let deadLetters: DeadLetterFile
    private let state: Mutex<State>
    private let wakeStream: AsyncStream<Void>
    private let wakeContinuation: AsyncStream<Void>.Continuation
    private let progressStream: AsyncStream<Void>
    private let progressContinuation: AsyncStream<Void>.Continuation

    struct Queued {
        var entry: SpoolEntry
        var queuedAt: ContinuousClock.Instant
    }

    final class Batch: Sendable {
        let first: UInt64
        let last: UInt64
        let entries: [SpoolEntry]
        let eventCount: Int
        let oldestAcceptedAt: Int64
        init(entries: [SpoolEntry]) {
            self.entries = entries
            first = entries.first!.sequence
            last = entries.last!.sequence
            eventCount = entries.reduce(0) { $0 + $1.events.count }
            oldestAcceptedAt = entries.map(\.acceptedAtMilliseconds).min() ?? 0
        }
    }

    struct State {
        var queue: [Queued] = []
        var queueStart = 0
        var queuedEvents = 0
        /// Batches sent and the done flag, in sequence order.
        var inFlight: [(batch: Batch, done: Bool)] = []
        var inFlightCount = 0
        var forwardedThrough: UInt64 = 0
        var unsentEvents = 0
        var flushing = false
        var abandoned = false
        var timerArmedUntil: ContinuousClock.Instant?
        var batchesSent: UInt64 = 0
        var retries: UInt64 = 0
        var deadLetters: UInt64 = 0
        var eventsForwarded: UInt64 = 0
        var lastError = ""
    }

    init(options: ForwarderOptions, upstream: Upstream, deadLetters: DeadLetterFile, forwardedThrough: UInt64) {
        self.options = options
        self.upstream = upstream
        self.deadLetters = deadLetters
        var initial = State()
        initial.forwardedThrough = forwardedThrough
        state = Mutex(initial)
        (wakeStream, wakeContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        (progressStream, progressContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// A stream that yields whenever the forwarded position may have advanced.
    var progress: AsyncStream<Void> { progressStream }

    /// Takes durable records, in sequence order.
    func enqueue(_ entries: [SpoolEntry]) {
        guard !entries.isEmpty else { return }
        let now = ContinuousClock.now
        state.withLock { state in
            for entry in entries {
                state.queue.append(Queued(entry: entry, queuedAt: now))
                state.queuedEvents += entry.events.count
                state.unsentEvents += entry.events.count
            }
        }
        wakeContinuation.yield()
    }

    private enum Decision {
        case send(Batch)
        case wait(until: ContinuousClock.Instant?)
        case exit
    }

    /// The batching loop; returns after `finish` once everything was sent or abandoned.
    func run() async {
        var wakes = wakeStream.makeAsyncIterator()
        while true {
            let now = ContinuousClock.now
            let decision: Decision = state.withLock { state in
                if state.abandoned { return .exit }
                let empty = state.queueStart == state.queue.count
                if empty {
                    return state.flushing && state.inFlightCount == 0 ? .exit : .wait(until: nil)
                }
                if state.inFlightCount >= options.maximumInFlightBatches { return .wait(until: nil) }
                let oldest = state.queue[state.queueStart].queuedAt
                guard state.queuedEvents >= options.batchEvents || state.flushing || now - oldest >= options.batchWindow else {
                    let deadline = oldest + options.batchWindow
                    if let armed = state.timerArmedUntil, armed <= deadline, armed > now { return .wait(until: nil) }
                    state.timerArmedUntil = deadline
                    return .wait(until: deadline)
                }
                var entries: [SpoolEntry] = []
                var events = 0
                var bytes = 0
                while state.queueStart < state.queue.count {
                    let next = state.queue[state.queueStart].entry
                    if !entries.isEmpty && (events + next.events.count > options.batchEvents || bytes + next.byteCount > options.batchBytes) { break }
                    entries.append(next)
                    events += next.events.count
                    bytes += next.byteCount
                    state.queueStart += 1
                }
                state.queuedEvents -= events
                if state.queueStart > 4096 && state.queueStart * 2 > state.queue.count {
                    state.queue.removeFirst(state.queueStart)
                    state.queueStart = 0
                }
                let batch = Batch(entries: entries)
                state.inFlight.append((batch, false))
                state.inFlightCount += 1
                return .send(batch)
            }
            switch decision {
            case .exit:
                return
            case .send(let batch):
                Task { await self.deliver(batch) }
            case .wait(let deadline):
                if let deadline {
                    let continuation = wakeContinuation
                    Task {
                        try? await Task.sleep(until: deadline, clock: .continuous)
                        continuation.yield()
                    }
                }
                _ = await wakes.next()
            }
        }
    }

    private func isAbandoned() -> Bool { state.withLock { $0.abandoned } }

    private func deliver(_ batch: Batch) async {
        let events = batch.entries.flatMap(\.events)
        let backoff = Backoff(initial: options.initialBackoff, maximum: options.maximumBackoff)
        var attempt = 0
        while !isAbandoned() {
            var client: MeterClient?
            do throws(MeterClientError) {
                let connected = try await upstream.get()
                client = connected
                let response = try await connected.ingestBatch(events, timeout: options.callTimeout)
                guard response.results.count == events.count else {
                    throw .protocolViolation("meterd answered \(response.results.count) results for \(events.count) events")
                }
                var rejected: [DeadLetterFile.Entry] = []
                var index = 0
                for entry in batch.entries {
                    for event in entry.events {
                        let result = response.results[index]
                        index += 1
                        if result.status == .rejected {
                            rejected.append(DeadLetterFile.Entry(sequence: entry.sequence, reason: result.reason, message: result.message, eventJSON: Self.json(event)))
                        }
                    }
                }
                if try writeDeadLetters(rejected) {
                    complete(batch, deadLettered: rejected.count)
                    return
                }
            } catch {
                if let client, case .connection = error { await upstream.invalidate(client) }
                if let client, case .deadlineExceeded = error { await upstream.invalidate(client) }
                if case .status(let code, let message, let reason) = error, Self.isPermanent(code) {
                    // meterd refused the whole request for a reason a retry cannot fix.
                    let why = reason.isEmpty ? code.description : reason
                    var rejected: [DeadLetterFile.Entry] = []
                    for entry in batch.entries {
                        for event in entry.events {
                            rejected.append(DeadLetterFile.Entry(sequence: entry.sequence, reason: why, message: message, eventJSON: Self.json(event)))
                        }
                    }
                    if (try? writeDeadLetters(rejected)) == true {
                        complete(batch, deadLettered: rejected.count)
                        return
                    }
                }
                state.withLock { $0.lastError = error.description }
            }
            state.withLock { $0.retries += 1 }
            try? await Task.sleep(for: backoff.delay(attempt: attempt))
            attempt += 1
        }
    }

    /// Writes dead letters; false (and a recorded error) when the file cannot be written, so
    /// the batch is retried rather than its rejections lost.
    private func writeDeadLetters(_ entries: [DeadLetterFile.Entry]) throws(MeterClientError) -> Bool {
        do {
            try deadLetters.append(entries)
            return true
        } catch {
            state.withLock { $0.lastError = "cannot write the dead-letter file: \(error)" }
            return false
        }
    }

    static func isPermanent(_ code: StatusCode) -> Bool {
        [StatusCode.invalidArgument, .failedPrecondition, .outOfRange, .notFound, .alreadyExists].contains(code)
    }

    static func json(_ event: Meterd_V1_Event) -> String {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        return (try? event.jsonString(options: options)) ?? "{}"
    }

    private func complete(_ batch: Batch, deadLettered: Int) {
        state.withLock { state in
            state.batchesSent += 1
            state.deadLetters += UInt64(deadLettered)
            state.eventsForwarded += UInt64(batch.eventCount - deadLettered)
            state.unsentEvents -= batch.eventCount
            state.inFlightCount -= 1
            if let index = state.inFlight.firstIndex(where: { $0.batch === batch }) {
                state.inFlight[index].done = true
            }
            var finished = 0
            while finished < state.inFlight.count, state.inFlight[finished].done {
                state.forwardedThrough = state.inFlight[finished].batch.last
                finished += 1
            }
            state.inFlight.removeFirst(finished)
        }
        wakeContinuation.yield()
        progressContinuation.yield()
    }

    /// Sends everything queued at once, ignoring the batch window (for shutdown).
    func flush() {
        state.withLock { $0.flushing = true }
        wakeContinuation.yield()
    }

    func finishProgress() { progressContinuation.finish() }

    /// Stops retrying: what is not acknowledged stays in the spool for the next start.
    func abandon() {
        state.withLock { $0.abandoned = true }
        wakeContinuation.yield()
    }

    var forwardedThrough: UInt64 { state.withLock { $0.forwardedThrough } }

    struct Numbers {
        var unsentEvents: Int
        var oldestUnsentAcceptedAt: Int64?
        var batchesSent: UInt64
        var retries: UInt64
        var deadLetters: UInt64
        var eventsForwarded: UInt64
        var forwardedThrough: UInt64
        var inFlightBatches: Int
        var lastError: String
    }

    var numbers: Numbers {
        state.withLock { state in
            var oldest: Int64?
            if let pending = state.inFlight.first(where: { !$0.done }) {
                oldest = pending.batch.oldestAcceptedAt
            } else if state.queueStart < state.queue.count {
                oldest = state.queue[state.queueStart].entry.acceptedAtMilliseconds
            }
            return Numbers(unsentEvents: state.unsentEvents, oldestUnsentAcceptedAt: oldest, batchesSent: state.batchesSent,
                           retries: state.retries, deadLetters: state.deadLetters, eventsForwarded: state.eventsForwarded,
                           forwardedThrough: state.forwardedThrough, inFlightBatches: state.inFlightCount, lastError: state.lastError)
        }
    }
}
