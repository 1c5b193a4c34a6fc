import ArgumentParser
import MeterClient
import MeterProto

/// `meterctl audit`: the tenant's admin actions (admin role), oldest first.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "List the tenant's admin actions (meter create/update/archive, key create/revoke) with who did them and when."
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(help: ArgumentHelp("Only actions at or after this RFC 3339 time.", valueName: "time"))
    var from: String?

    @Option(help: ArgumentHelp("Only actions before this RFC 3339 time.", valueName: "time"))
    var to: String?

    @Option(help: ArgumentHelp("Only actions by this key or on it.", valueName: "key id"))
    var key: String?

    @Option(help: ArgumentHelp("Only actions on this meter (id or event name).", valueName: "meter"))
    var meter: String?

    @Option(help: "At most this many entries, the newest (default 1000).")
    var limit: UInt32 = 0

    func validate() throws {
        _ = try timestampOption(from, option: "--from")
        _ = try timestampOption(to, option: "--to")
    }

    func run() async throws {
        let fromMilliseconds = try timestampOption(from, option: "--from")
        let toMilliseconds = try timestampOption(to, option: "--to")
        let keyId = key ?? ""
        let reference = meter.map(MeterClient.reference)
        let limit = limit
        let entries = try await connection.withClient { client in
            try await client.auditEntries(fromMilliseconds: fromMilliseconds, toMilliseconds: toMilliseconds, keyId: keyId,
                                          meter: reference, limit: limit)
        }
        connection.printListing(entries, json: { entry in
            .object([
                ("sequence", .unsignedInteger(entry.sequence)), ("at", .string(Describe.time(entry.atMs))), ("at_ms", .integer(entry.atMs)),
                ("actor", .string(entry.actor)), ("actor_key_id", entry.actorKeyID.isEmpty ? .null : .string(entry.actorKeyID)),
                ("action", .string(entry.action)), ("target_id", .string(entry.targetID)), ("detail", .string(entry.detail)),
            ])
        }, empty: "no audit entries", table: TextTable(headers: ["TIME", "ACTOR", "ACTION", "TARGET", "DETAIL"], rightAligned: [])) { entry in
            [Describe.time(entry.atMs), entry.actor, entry.action, entry.targetID, entry.detail]
        }
    }
}
