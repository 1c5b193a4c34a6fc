import ArgumentParser
import MeterClient
import MeterCore
import MeterProto

/// `meterctl meters ...`: create, inspect, rename and archive meters.
struct MetersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meters",
        abstract: "Create, list, inspect, rename and archive meters.",
        discussion: "METER is a meter id (mtr_...) or an event name (the active meter with that name, else the latest archived one).",
        subcommands: [CreateMeterCommand.self, GetMeterCommand.self, ListMetersCommand.self, UpdateMeterCommand.self, ArchiveMeterCommand.self]
    )
}

/// Prints one meter as text or JSON.
private func printMeter(_ meter: Meterd_V1_Meter, json: Bool) {
    print(json ? Describe.meterJSON(meter).rendered() : Describe.meterDetails(meter))
}

/// Connects, runs `call` on the meter `text` names (an id or an event name), and prints the
/// meter it answers.
private func printMeter(_ text: String, connection: ConnectionOptions,
                        _ call: (MeterClient, Meterd_V1_MeterReference) async throws -> Meterd_V1_Meter) async throws {
    let reference = MeterClient.reference(text)
    let meter = try await connection.withClient { client in try await call(client, reference) }
    printMeter(meter, json: connection.json)
}

/// `meterctl meters create`: defines a new meter.
struct CreateMeterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a meter.",
        discussion: """
            Everything but the display name is fixed once the meter exists. To change it, archive \
            the meter and create a new one with the same event name: the new meter backfills the \
            retained events.

            Example:
              meterctl meters create --event-name tokens_used \\
                --display-name "Tokens Used" --aggregation SUM --field tokens \\
                --reset periodic --period monthly \\
                --filter model=llama3.1,llama3.2 --group-by model
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(help: ArgumentHelp("The event name the meter counts (a-z, 0-9, '_', '.', '-').", valueName: "name"))
    var eventName: String

    @Option(help: ArgumentHelp("The label shown on invoices and reports (default: the event name).", valueName: "text"))
    var displayName: String?

    @Option(help: ArgumentHelp("The aggregation function, in any case.", valueName: "function"))
    var aggregation: AggregationArgument

    @Option(help: ArgumentHelp("The property aggregated (all but COUNT).", valueName: "property"))
    var field: String?

    @Option(help: ArgumentHelp("A positive decimal factor applied once to a SUM, such as a unit price.", valueName: "decimal"))
    var multiplier: String?

    @Option(help: ArgumentHelp("Whether usage starts again each billing period (periodic) or is a running total (cumulative).", valueName: "mode"))
    var reset: ResetArgument

    @Option(help: ArgumentHelp("Billing period of a periodic meter (default monthly).", valueName: "period"))
    var period: PeriodArgument?

    @Option(help: ArgumentHelp("RFC 3339 instant billing periods are counted from, a whole UTC hour (default 2000-01-01T00:00:00Z).", valueName: "time"))
    var anchor: String?

    @Option(name: .customLong("filter"), help: ArgumentHelp("Count only events whose property KEY is one of the values. Repeatable.", valueName: "key=v1,v2"))
    var filters: [FilterArgument] = []

    @Option(name: .customLong("group-by"), help: ArgumentHelp("A property key usage can be broken down by in queries. Repeatable.", valueName: "key"))
    var groupBy: [String] = []

    func validate() throws {
        if reset.value == .cumulative {
            if period != nil { throw ValidationError("--period only applies to --reset periodic") }
            if anchor != nil { throw ValidationError("--anchor only applies to --reset periodic") }
        }
        if let anchor {
            _ = try parseTimestampOption(anchor, option: "--anchor")
        }
    }

    /// The definition the options describe.
    func definition() throws -> Meterd_V1_MeterDefinition {
        var definition = Meterd_V1_MeterDefinition()
        definition.eventName = eventName
        definition.displayName = displayName ?? eventName
        definition.aggregation = aggregation.value
        definition.field = field ?? ""
        definition.multiplier = multiplier ?? ""
        definition.reset = reset.value
        if reset.value == .periodic {
            definition.billingPeriod = period?.value ?? .monthly
            if let anchor {
                definition.anchorMs = try parseTimestampOption(anchor, option: "--anchor")
                definition.hasAnchor_p = true
            }
        }
        definition.filters = filters.map(\.filter)
        definition.groupBy = groupBy
        return definition
    }

    func run() async throws {
        let definition = try definition()
        let meter = try await connection.withClient { client in
            try await client.createMeter(definition)
        }
        printMeter(meter, json: connection.json)
    }
}

/// `meterctl meters get METER`.
struct GetMeterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Show a meter, its counters and its backfill progress.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("A meter id (mtr_...) or an event name.", valueName: "meter"))
    var meter: String

    func run() async throws {
        try await printMeter(meter, connection: connection) { client, reference in try await client.getMeter(reference) }
    }
}

/// `meterctl meters list`.
struct ListMetersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the tenant's meters, ordered by id.")

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Also list archived meters.")
    var includeArchived = false

    func run() async throws {
        let includeArchived = includeArchived
        let meters = try await connection.withClient { client in
            try await client.listMeters(includeArchived: includeArchived)
        }
        let table = TextTable(headers: ["ID", "EVENT NAME", "DISPLAY NAME", "AGGREGATION", "RESET", "STATUS", "COUNTED"], rightAligned: [6])
        connection.printListing(meters, json: Describe.meterJSON, empty: includeArchived ? "no meters" : "no active meters", table: table) { meter in
            let definition = meter.definition
            let reset = definition.reset == .periodic ? Describe.period(definition.billingPeriod) : Describe.reset(definition.reset)
            return [
                meter.id, definition.eventName, definition.displayName, Describe.formula(definition), reset,
                Describe.status(meter.status) + (meter.backfill.complete ? "" : " (backfilling)"), String(meter.counters.counted),
            ]
        }
    }
}

/// `meterctl meters update METER --display-name X`.
///
/// Only the display name can change. The options for immutable fields exist so that asking for
/// such a change gets the server's explanation (FAILED_PRECONDITION) instead of being ignored.
struct UpdateMeterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Change a meter's display name.",
        discussion: """
            Only the display name can change. Filters, aggregation, field and event name are fixed: \
            asking to change them is refused by the server, which explains how to replace the meter \
            (archive it, then create a new one with the same event name).
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("A meter id (mtr_...) or an event name.", valueName: "meter"))
    var meter: String

    @Option(help: ArgumentHelp("The new display name.", valueName: "text"))
    var displayName: String?

    @Option(name: .customLong("filter"), help: ArgumentHelp("Immutable: sent only to get the server's refusal.", valueName: "key=v1,v2"))
    var filters: [FilterArgument] = []

    @Option(help: ArgumentHelp("Immutable: sent only to get the server's refusal.", valueName: "function"))
    var aggregation: AggregationArgument?

    @Option(help: ArgumentHelp("Immutable: sent only to get the server's refusal.", valueName: "property"))
    var field: String?

    @Option(help: ArgumentHelp("Immutable: sent only to get the server's refusal.", valueName: "name"))
    var eventName: String?

    /// The immutable fields asked for, or nil when none was.
    var immutableChanges: Meterd_V1_MeterDefinition? {
        guard !filters.isEmpty || aggregation != nil || field != nil || eventName != nil else { return nil }
        var changes = Meterd_V1_MeterDefinition()
        changes.filters = filters.map(\.filter)
        changes.aggregation = aggregation?.value ?? .unspecified
        changes.field = field ?? ""
        changes.eventName = eventName ?? ""
        return changes
    }

    func validate() throws {
        if displayName == nil, immutableChanges == nil {
            throw ValidationError("nothing to update: pass --display-name")
        }
    }

    func run() async throws {
        let displayName = displayName
        let immutableChanges = immutableChanges
        try await printMeter(meter, connection: connection) { client, reference in
            // Without --display-name, send the current one, so the refusal is about the immutable
            // fields asked for and not about an empty display name.
            let name: String
            if let displayName {
                name = displayName
            } else {
                name = try await client.getMeter(reference).definition.displayName
            }
            return try await client.updateMeter(reference, displayName: name, immutableChanges: immutableChanges)
        }
    }
}

/// `meterctl meters archive METER`.
struct ArchiveMeterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "Archive a meter: it stops counting, keeps its usage and frees its event name."
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("A meter id (mtr_...) or an event name.", valueName: "meter"))
    var meter: String

    func run() async throws {
        try await printMeter(meter, connection: connection) { client, reference in try await client.archiveMeter(reference) }
    }
}
