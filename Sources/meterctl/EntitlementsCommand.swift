import ArgumentParser
import MeterClient
import MeterProto

/// `meterctl entitlements set|list|remove|grant|ungrant|check`: usage limits per meter and
/// customer (admin role; `check` needs read).
struct EntitlementsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "entitlements",
        abstract: "Set, list and remove usage limits, add grants, and check a customer's access.",
        subcommands: [SetEntitlementCommand.self, ListEntitlementsCommand.self, RemoveEntitlementCommand.self,
                      GrantCommand.self, RemoveGrantCommand.self, CheckEntitlementCommand.self]
    )
}

/// `meterctl entitlements set METER --limit N [--customer ID] [--soft]`.
struct SetEntitlementCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Set a meter's limit for a customer, or the tenant-wide default without --customer.",
        discussion: "The limit applies per billing period of a PERIODIC meter and to the lifetime of a CUMULATIVE one. Setting it again replaces it."
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The meter: its id (mtr_...) or event name.") var meter: String
    @Option(help: ArgumentHelp("The limit, an exact decimal such as 1000 or 2.5.", valueName: "number")) var limit: String
    @Option(help: ArgumentHelp("Only this customer (default: every customer without their own).", valueName: "id")) var customer: String?
    @Flag(help: "A soft limit: access stays granted, the overage is reported (default: hard).") var soft = false

    func run() async throws {
        let (meter, customer, limit, enforcement) = (MeterClient.reference(meter), customer ?? "", limit, soft ? Meterd_V1_Enforcement.soft : .hard)
        let entitlement = try await connection.withClient { client in
            try await client.setEntitlement(meter: meter, customerId: customer, limit: limit, enforcement: enforcement)
        }
        connection.printObject(EntitlementOutput.json(entitlement), text: EntitlementOutput.line(entitlement))
    }
}

/// `meterctl entitlements list [METER]`.
struct ListEntitlementsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the tenant's entitlements and grants.")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Only this meter (id or event name).") var meter: String?

    func run() async throws {
        let meter = meter.map(MeterClient.reference)
        let listed = try await connection.withClient { client in try await client.listEntitlements(meter: meter) }
        if connection.json {
            print(JSONOutput.object([
                ("entitlements", .array(listed.entitlements.map { .object(EntitlementOutput.json($0)) })),
                ("grants", .array(listed.grants.map { .object(EntitlementOutput.json($0)) })),
            ]).rendered())
            return
        }
        guard !listed.entitlements.isEmpty || !listed.grants.isEmpty else { return print("no entitlements") }
        var table = TextTable(headers: ["METER", "CUSTOMER", "LIMIT", "ENFORCEMENT", "UPDATED"], rightAligned: [2])
        for entitlement in listed.entitlements {
            table.rows.append([entitlement.meterID, entitlement.customerID.isEmpty ? "(default)" : entitlement.customerID, entitlement.limit,
                               EntitlementOutput.name(entitlement.enforcement), Describe.time(entitlement.updatedAtMs)])
        }
        print(table.rendered())
        guard !listed.grants.isEmpty else { return }
        var grants = TextTable(headers: ["GRANT", "METER", "CUSTOMER", "AMOUNT", "FROM", "EXPIRES"], rightAligned: [3])
        for grant in listed.grants {
            grants.rows.append([grant.id, grant.meterID, grant.customerID, grant.amount, Describe.time(grant.effectiveFromMs),
                                grant.expiresAtMs == 0 ? "never" : Describe.time(grant.expiresAtMs)])
        }
        print("")
        print(grants.rendered())
    }
}

/// `meterctl entitlements remove METER [--customer ID]`.
struct RemoveEntitlementCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a meter's entitlement for a customer, or the default without --customer.")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The meter: its id (mtr_...) or event name.") var meter: String
    @Option(help: ArgumentHelp("The customer (default: the tenant-wide default).", valueName: "id")) var customer: String?

    func run() async throws {
        let (meter, customer) = (MeterClient.reference(meter), customer ?? "")
        let removed = try await connection.withClient { client in try await client.removeEntitlement(meter: meter, customerId: customer) }
        connection.printObject(EntitlementOutput.json(removed), text: "removed: " + EntitlementOutput.line(removed))
    }
}

/// `meterctl entitlements grant METER --customer ID --amount N [--from T] [--expires T]`.
struct GrantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "grant", abstract: "Raise a customer's limit on a meter by an amount, from a time until an optional expiry.")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The meter: its id (mtr_...) or event name.") var meter: String
    @Option(help: ArgumentHelp("The customer.", valueName: "id")) var customer: String
    @Option(help: ArgumentHelp("How much more usage, an exact decimal.", valueName: "number")) var amount: String
    @Option(help: ArgumentHelp("Effective from (RFC 3339; default now).", valueName: "time")) var from: String?
    @Option(help: ArgumentHelp("Expires at (RFC 3339; default never).", valueName: "time")) var expires: String?

    func validate() throws {
        _ = try timestampOption(from, option: "--from")
        _ = try timestampOption(expires, option: "--expires")
    }

    func run() async throws {
        let fromMilliseconds = try timestampOption(from, option: "--from")
        let expiresMilliseconds = try timestampOption(expires, option: "--expires")
        let (meter, customer, amount) = (MeterClient.reference(meter), customer, amount)
        let grant = try await connection.withClient { client in
            try await client.addGrant(meter: meter, customerId: customer, amount: amount,
                                      effectiveFromMilliseconds: fromMilliseconds, expiresAtMilliseconds: expiresMilliseconds)
        }
        connection.printObject(EntitlementOutput.json(grant),
                               text: "\(grant.id): \(grant.amount) more on \(grant.meterID) for \(grant.customerID) from \(Describe.time(grant.effectiveFromMs))"
                                   + (grant.expiresAtMs == 0 ? "" : " until \(Describe.time(grant.expiresAtMs))"))
    }
}

/// `meterctl entitlements ungrant GRANT_ID`.
struct RemoveGrantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ungrant", abstract: "Remove a grant.")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The grant's id (grt_...).") var id: String

    func run() async throws {
        let id = id
        let grant = try await connection.withClient { client in try await client.removeGrant(id: id) }
        connection.printObject(EntitlementOutput.json(grant), text: "removed \(grant.id)")
    }
}

/// `meterctl entitlements check METER --customer ID [--at T]`.
struct CheckEntitlementCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Whether a customer may use a meter now, with usage, limit and balance.")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The meter: its id (mtr_...) or event name.") var meter: String
    @Option(help: ArgumentHelp("The customer.", valueName: "id")) var customer: String
    @Option(help: ArgumentHelp("The instant (RFC 3339; default now).", valueName: "time")) var at: String?

    func validate() throws {
        _ = try timestampOption(at, option: "--at")
    }

    func run() async throws {
        let atMilliseconds = try timestampOption(at, option: "--at")
        let (meter, customer) = (MeterClient.reference(meter), customer)
        let check = try await connection.withClient { client in
            try await client.checkEntitlement(meter: meter, customerId: customer, atMilliseconds: atMilliseconds)
        }
        let period: JSONOutput = check.periodEndMs == 0 ? .null
            : .object([("start", .string(Describe.time(check.periodStartMs))), ("end", .string(Describe.time(check.periodEndMs)))])
        if connection.json {
            print(JSONOutput.object([
                ("has_access", .bool(check.hasAccess_p)), ("meter_id", .string(check.meterID)), ("customer_id", .string(check.customerID)),
                ("enforcement", .string(EntitlementOutput.name(check.enforcement))), ("is_default", .bool(check.isDefault)),
                ("usage", .string(check.usage)), ("limit", .string(check.limit)), ("granted", .string(check.granted)),
                ("remaining", .string(check.remaining)), ("overage", .string(check.overage)), ("period", period),
            ]).rendered())
            return
        }
        print("access:      \(check.hasAccess_p ? "yes" : "no") (\(EntitlementOutput.name(check.enforcement))\(check.isDefault ? ", tenant default" : ""))")
        print("usage:       \(check.usage) of \(check.limit)\(check.granted == "0" ? "" : " (\(check.granted) granted)")")
        print("remaining:   \(check.remaining)\(check.overage == "0" ? "" : ", overage \(check.overage)")")
        print("period:      " + (check.periodEndMs == 0 ? "lifetime (cumulative meter)" : "\(Describe.time(check.periodStartMs)) - \(Describe.time(check.periodEndMs))"))
    }
}

/// Output shared by the entitlement commands.
enum EntitlementOutput {
    static func name(_ enforcement: Meterd_V1_Enforcement) -> String { enforcement == .soft ? "SOFT" : "HARD" }

    static func line(_ entitlement: Meterd_V1_Entitlement) -> String {
        "\(entitlement.meterID) \(entitlement.customerID.isEmpty ? "(default)" : "customer \(entitlement.customerID)"): \(entitlement.limit) \(name(entitlement.enforcement))"
    }

    static func json(_ entitlement: Meterd_V1_Entitlement) -> [(String, JSONOutput)] {
        [("meter_id", .string(entitlement.meterID)), ("customer_id", entitlement.customerID.isEmpty ? .null : .string(entitlement.customerID)),
         ("limit", .string(entitlement.limit)), ("enforcement", .string(name(entitlement.enforcement))),
         ("updated_at", .string(Describe.time(entitlement.updatedAtMs)))]
    }

    static func json(_ grant: Meterd_V1_Grant) -> [(String, JSONOutput)] {
        [("id", .string(grant.id)), ("meter_id", .string(grant.meterID)), ("customer_id", .string(grant.customerID)),
         ("amount", .string(grant.amount)), ("effective_from", .string(Describe.time(grant.effectiveFromMs))),
         ("expires_at", grant.expiresAtMs == 0 ? .null : .string(Describe.time(grant.expiresAtMs)))]
    }
}
