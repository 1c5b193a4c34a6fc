import AsyncHTTPClient
import CoreMetrics
import Foundation
import Logging
import MeterCore
import MeterEngine
import NIOConcurrencyHelpers
import NIOCore

/// Delivers threshold notifications as signed HTTP POSTs, in number order, each until it gets a
/// 2xx or has failed `maximumAttempts` times (then it is dead-lettered and delivery moves on).
///
/// The notifications are durable in the log and numbered deterministically, so the log is the
/// outbox: the dispatcher reads them from the engine (waiting with the long poll) and records in
/// `WebhookOutbox` how far it got. A retry and a redelivery after a restart carry the same
/// `Meterd-Delivery` id (`ntf_<number>`), so a receiver that keeps the ids it processed sees
/// each notification once. (A crash after the receiver's 2xx and before the outbox is saved
/// redelivers that one notification: on the wire delivery is at least once.)
///
/// The POST uses AsyncHTTPClient (its shared client: keep-alive connections pooled per host,
/// HTTP/1.1 or HTTPS, on NIO's shared event loops); the response body is read and dropped (at
/// most 64 KiB) so the connection can be reused.
public final class WebhookDispatcher: Sendable {
    /// Delivery counts since start (also exported as `meterd_webhook_*` metrics).
    public struct Status: Sendable, Equatable {
        public var deliveredThrough: UInt64
        public var delivered: UInt64
        public var failedAttempts: UInt64
        public var deadLettered: UInt64
        public var deadLetters: [UInt64]
        /// The dead letters with their attempts and last error, oldest first.
        public var deadLetterDetails: [(number: UInt64, attempts: Int, lastError: String)] = []

        public static func == (left: Status, right: Status) -> Bool {
            (left.deliveredThrough, left.delivered, left.failedAttempts, left.deadLettered, left.deadLetters)
                == (right.deliveredThrough, right.delivered, right.failedAttempts, right.deadLettered, right.deadLetters)
        }
    }

    let engine: MeterEngine
    public let configuration: WebhookConfiguration
    let logger: Logger
    private let state: NIOLockedValueBox<(outbox: WebhookOutbox, status: Status)>
    private let lastDurableSave = NIOLockedValueBox(ContinuousClock.now)
    private let deliveredCounter = Counter(label: "meterd_webhook_deliveries_total")
    private let failedCounter = Counter(label: "meterd_webhook_failed_attempts_total")
    private let deadCounter = Counter(label: "meterd_webhook_dead_letters_total")

    public init(engine: MeterEngine, configuration: WebhookConfiguration, logger: Logger) throws {
        self.engine = engine
        self.configuration = configuration
        self.logger = logger
        let outbox = try WebhookOutbox.load(configuration.outboxPath)
        state = NIOLockedValueBox((outbox, Status(deliveredThrough: outbox.deliveredThrough, delivered: 0, failedAttempts: 0,
                                                  deadLettered: 0, deadLetters: outbox.deadLetters.map(\.number))))
    }

    public var status: Status {
        state.withLockedValue { state in
            var status = state.status
            status.deadLetterDetails = state.outbox.deadLetters.map { ($0.number, $0.attempts, $0.lastError) }
            return status
        }
    }

    /// Delivers until the task is cancelled.
    public func run() async {
        let client = HTTPClient.shared
        while !Task.isCancelled {
            let cursor = state.withLockedValue { $0.outbox.deliveredThrough }
            let page: [(number: UInt64, body: [UInt8])]
            do {
                page = try await engine.notificationPage(tenantId: nil, afterNumber: cursor, limit: 100, waitMilliseconds: 5_000) { found, _ in
                    found.map { ($0.number, Self.payload($0)) }
                }
            } catch {
                logger.warning("webhook: cannot read notifications", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            for (index, item) in page.enumerated() {
                guard !Task.isCancelled else { break }
                await settle(item.number, body: item.body, client: client, lastOfPage: index == page.count - 1)
            }
        }
        save(durable: true)
    }

    private func settle(_ number: UInt64, body: [UInt8], client: HTTPClient, lastOfPage: Bool) async {
        var attempt = 0
        var lastError = ""
        while attempt < configuration.maximumAttempts {
            attempt += 1
            do {
                try await post(number, body: body, client: client)
                record(number, durable: lastOfPage) { outbox, status in
                    status.delivered += 1
                }
                deliveredCounter.increment()
                return
            } catch {
                lastError = "\(error)"
                failedCounter.increment()
                state.withLockedValue { $0.status.failedAttempts += 1 }
                logger.notice("webhook delivery failed", metadata: ["delivery": "ntf_\(number)", "attempt": "\(attempt)", "error": "\(error)"])
                guard attempt < configuration.maximumAttempts else { break }
                do {
                    try await Task.sleep(for: configuration.backoff(afterAttempt: attempt, random: Double.random(in: 0...1)))
                } catch {
                    return
                }
            }
        }
        record(number, durable: true) { outbox, status in
            outbox.deadLetters.append(WebhookOutbox.DeadLetter(number: number, attempts: attempt, lastError: lastError))
            if outbox.deadLetters.count > WebhookOutbox.deadLettersMaximumCount { outbox.deadLetters.removeFirst() }
            status.deadLettered += 1
            status.deadLetters = outbox.deadLetters.map(\.number)
        }
        deadCounter.increment()
        logger.warning("webhook delivery dead-lettered", metadata: ["delivery": "ntf_\(number)", "attempts": "\(attempt)", "error": "\(lastError)"])
    }

    /// Moves the cursor past `number` and saves the outbox, durably when asked or when the last
    /// durable save is a second old (a failed save is logged; the notification is then delivered
    /// again after a restart, with the same delivery id).
    private func record(_ number: UInt64, durable: Bool, _ change: (inout WebhookOutbox, inout Status) -> Void) {
        state.withLockedValue { state in
            state.outbox.deliveredThrough = Swift.max(state.outbox.deliveredThrough, number)
            change(&state.outbox, &state.status)
            state.status.deliveredThrough = state.outbox.deliveredThrough
        }
        save(durable: durable || ContinuousClock.now - lastDurableSave.withLockedValue { $0 } >= .seconds(1))
    }

    private func save(durable: Bool) {
        let outbox = state.withLockedValue { $0.outbox }
        do {
            try outbox.save(configuration.outboxPath, durable: durable)
            if durable { lastDurableSave.withLockedValue { $0 = ContinuousClock.now } }
        } catch {
            logger.error("webhook outbox not saved", metadata: ["error": "\(error)"])
        }
    }

    private func post(_ number: UInt64, body: [UInt8], client: HTTPClient) async throws {
        var request = HTTPClientRequest(url: configuration.url.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: WebhookSignature.deliveryHeaderName, value: "ntf_\(number)")
        request.headers.add(name: WebhookSignature.headerName, value: WebhookSignature.value(body: body, secret: configuration.secret))
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(configuration.requestTimeout.components.seconds + 1))
        _ = try await response.body.collect(upTo: 64 << 10)
        guard (200..<300).contains(response.status.code) else { throw OutboxError("HTTP \(response.status.code)") }
    }

    /// The JSON body of one notification (built on the engine's writer, see `EntitlementCommand`).
    static func payload(_ notification: ThresholdNotification) -> [UInt8] {
        func time(_ milliseconds: Int64?) -> String {
            milliseconds.map { "\"\(CivilTime.rfc3339(milliseconds: $0))\"" } ?? "null"
        }
        func string(_ text: String) -> String {
            var literal = ""
            JSONStringLiteral.append(text, to: &literal)
            return literal
        }
        let text = "{\"delivery_id\":\"ntf_\(notification.number)\",\"number\":\(notification.number),\"tenant_id\":\(string(notification.tenantId))"
            + ",\"rule_id\":\(string(notification.ruleId)),\"meter_id\":\(string(notification.meterId)),\"customer_id\":\(string(notification.customerId))"
            + ",\"threshold\":\"\(notification.threshold)\",\"usage\":\"\(notification.usage)\""
            + ",\"period_start\":\(time(notification.periodStartMilliseconds)),\"period_end\":\(time(notification.periodEndMilliseconds))"
            + ",\"sequence\":\(notification.sequence),\"at\":\(time(notification.atMilliseconds))}"
        return Array(text.utf8)
    }
}
