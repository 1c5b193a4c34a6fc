import ArgumentParser
import Foundation
import MeterClient
import MeterProto

/// `meterctl thresholds add|list|remove` (admin) and `meterctl notifications` (read).
struct ThresholdsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "thresholds",
        abstract: "Add, list and remove usage threshold rules, which raise one notification per crossing.",
        subcommands: [AddThresholdCommand.self, ListThresholdsCommand.self, RemoveThresholdCommand.self]
    )
}

/// `meterctl thresholds add METER (--value N | --percent P) [--customer ID]`.
struct AddThresholdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Notify once per customer and billing period when usage reaches a value or a percentage of the entitlement."
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The meter: its id (mtr_...) or event name.") var meter: String
    @Option(help: ArgumentHelp("An absolute usage value.", valueName: "number")) var value: String?
    @Option(help: ArgumentHelp("A percentage of the customer's entitlement limit (grants included).", valueName: "number")) var percent: String?
    @Option(help: ArgumentHelp("Only this customer (default: every customer).", valueName: "id")) var customer: String?

    func validate() throws {
        guard (value == nil) != (percent == nil) else { throw ValidationError("give exactly one of --value and --percent") }
    }

    func run() async throws {
        let (meter, customer, value, percent) = (MeterClient.reference(meter), customer ?? "", value, percent)
        let rule = try await connection.withClient { client in
            try await client.addThresholdRule(meter: meter, customerId: customer, value: value, percent: percent)
        }
        connection.printObject(ThresholdOutput.json(rule), text: ThresholdOutput.line(rule))
    }
}

/// `meterctl thresholds list [METER]`.
struct ListThresholdsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the tenant's threshold rules.")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Only this meter (id or event name).") var meter: String?

    func run() async throws {
        let meter = meter.map(MeterClient.reference)
        let rules = try await connection.withClient { client in try await client.listThresholdRules(meter: meter) }
        if connection.json { return print(JSONOutput.array(rules.map { .object(ThresholdOutput.json($0)) }).rendered()) }
        guard !rules.isEmpty else { return print("no threshold rules") }
        for rule in rules { print(ThresholdOutput.line(rule)) }
    }
}

/// `meterctl thresholds remove RULE_ID`.
struct RemoveThresholdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a threshold rule.")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The rule's id (thr_...).") var id: String

    func run() async throws {
        let id = id
        let rule = try await connection.withClient { client in try await client.removeThresholdRule(id: id) }
        connection.printObject(ThresholdOutput.json(rule), text: "removed " + ThresholdOutput.line(rule))
    }
}

/// `meterctl notifications [--after N] [--follow]`: threshold crossings, oldest first.
struct NotificationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notifications",
        abstract: "Print threshold notifications numbered after --after; with --follow, keep printing new ones as they are raised.",
        discussion: """
            Without --follow, pages through ListNotifications. With --follow, watches the WatchNotifications \
            stream: each notification is printed as it arrives, and the resume cursor goes to standard error \
            ("cursor N") after each one and when the stream ends, so a later run resumes with --after N and \
            gets exactly what it missed.
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Option(help: ArgumentHelp("Only notifications numbered above this.", valueName: "number")) var after: UInt64 = 0
    @Flag(help: "Keep printing new notifications as they are raised (until interrupted).") var follow = false

    func run() async throws {
        let json = connection.json
        var cursor = after
        if follow {
            try await connection.withClient { client in
                do {
                    for try await notification in client.watchNotifications(after: cursor) {
                        print(json ? JSONOutput.object(ThresholdOutput.json(notification)).rendered() : ThresholdOutput.line(notification))
                        cursor = notification.number
                        FileHandle.standardError.write(Data("cursor \(cursor)\n".utf8))
                        fflush(nil)
                    }
                } catch {
                    FileHandle.standardError.write(Data("cursor \(cursor): the stream failed; resume with --after \(cursor)\n".utf8))
                    throw error
                }
                FileHandle.standardError.write(Data("cursor \(cursor): the server ended the stream; resume with --after \(cursor)\n".utf8))
            }
            return
        }
        try await connection.withClient { client in
            repeat {
                let page = try await client.listNotifications(afterNumber: cursor, limit: 1000, waitMilliseconds: 0)
                for notification in page.notifications {
                    print(json ? JSONOutput.object(ThresholdOutput.json(notification)).rendered() : ThresholdOutput.line(notification))
                }
                // A cluster answers every notification at once with last number 0 (no cursor).
                if page.notifications.count < 1000 || page.lastNumber <= cursor { break }
                cursor = page.lastNumber
            } while true
        }
    }
}

/// `meterctl webhooks`: webhook delivery state (admin).
struct WebhooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhooks",
        abstract: "Show webhook delivery: the URL, how far delivery got, failed attempts and dead letters."
    )

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let status = try await connection.withClient { client in try await client.webhookStatus() }
        if connection.json {
            print(JSONOutput.object([
                ("enabled", .bool(status.enabled)), ("url", status.enabled ? .string(status.url) : .null),
                ("delivered_through", .unsignedInteger(status.deliveredThrough)),
                ("last_notification_number", .unsignedInteger(status.lastNotificationNumber)),
                ("delivered", .unsignedInteger(status.delivered)), ("failed_attempts", .unsignedInteger(status.failedAttempts)),
                ("dead_lettered", .unsignedInteger(status.deadLettered)),
                ("dead_letters", .array(status.deadLetters.map { .object([
                    ("number", .unsignedInteger($0.number)), ("attempts", .unsignedInteger(UInt64($0.attempts))),
                    ("last_error", .string($0.lastError))]) })),
            ]).rendered())
            return
        }
        guard status.enabled else {
            return print("webhooks: off (meterd runs without --webhook-url); newest notification #\(status.lastNotificationNumber)")
        }
        print("url:                \(status.url)")
        print("delivered through:  #\(status.deliveredThrough) of #\(status.lastNotificationNumber)")
        print("since start:        \(status.delivered) delivered, \(status.failedAttempts) failed attempts, \(status.deadLettered) dead-lettered")
        for letter in status.deadLetters {
            print("dead letter:        #\(letter.number) after \(letter.attempts) attempts: \(letter.lastError)")
        }
    }
}

/// Output shared by the threshold commands.
enum ThresholdOutput {
    static func level(_ rule: Meterd_V1_ThresholdRule) -> String {
        switch rule.level {
        case .value(let value): return value
        case .percent(let percent): return "\(percent)% of entitlement"
        case nil: return "?"
        }
    }

    static func line(_ rule: Meterd_V1_ThresholdRule) -> String {
        "\(rule.id): \(rule.meterID) at \(level(rule)) for \(rule.customerID.isEmpty ? "every customer" : "customer \(rule.customerID)")"
    }

    static func json(_ rule: Meterd_V1_ThresholdRule) -> [(String, JSONOutput)] {
        var members: [(String, JSONOutput)] = [("id", .string(rule.id)), ("meter_id", .string(rule.meterID)),
                                               ("customer_id", rule.customerID.isEmpty ? .null : .string(rule.customerID))]
        switch rule.level {
        case .value(let value): members.append(("value", .string(value)))
        case .percent(let percent): members.append(("percent", .string(percent)))
        case nil: break
        }
        members.append(("created_at", .string(Describe.time(rule.createdAtMs))))
        return members
    }

    static func line(_ notification: Meterd_V1_Notification) -> String {
        "#\(notification.number) \(Describe.time(notification.atMs)) \(notification.ruleID) \(notification.meterID) customer \(notification.customerID): usage \(notification.usage) reached \(notification.threshold)"
            + (notification.periodEndMs == 0 ? "" : " in period \(Describe.time(notification.periodStartMs)) - \(Describe.time(notification.periodEndMs))")
    }

    static func json(_ notification: Meterd_V1_Notification) -> [(String, JSONOutput)] {
        [("number", .unsignedInteger(notification.number)), ("rule_id", .string(notification.ruleID)),
         ("meter_id", .string(notification.meterID)), ("customer_id", .string(notification.customerID)),
         ("threshold", .string(notification.threshold)), ("usage", .string(notification.usage)),
         ("period_start", notification.periodEndMs == 0 ? .null : .string(Describe.time(notification.periodStartMs))),
         ("period_end", notification.periodEndMs == 0 ? .null : .string(Describe.time(notification.periodEndMs))),
         ("sequence", .unsignedInteger(notification.sequence)), ("at", .string(Describe.time(notification.atMs)))]
    }
}
