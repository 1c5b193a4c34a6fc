import ArgumentParser
import MeterClient
import MeterProto

/// `meterctl usage METER ...`: usage over a range split into windows, or the current usage.
struct UsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Show a meter's usage over a range, or its current usage.",
        discussion: """
            Range:   meterctl usage METER --from 2026-01-01T00:00:00Z --to 2026-02-01T00:00:00Z --window DAY
            Current: meterctl usage METER --current [--customer ID] [--at TIME]

            The range is [from, to), in whole minutes. Windows are UTC: MINUTE, FIFTEEN_MINUTES, \
            THIRTY_MINUTES, HOUR, THREE_HOURS, SIX_HOURS, TWELVE_HOURS, DAY, WEEK (from Monday) \
            or MONTH; without --window the whole range is one window. For a CUMULATIVE meter a \
            window's value is the running total up to the window's end; for a PERIODIC meter, the \
            usage inside the window. --current gives the billing period containing the instant \
            (PERIODIC) or the running total up to it (CUMULATIVE). With --json, values are JSON \
            strings holding exact decimals.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("A meter id (mtr_...) or an event name.", valueName: "meter"))
    var meter: String

    @Option(help: ArgumentHelp("Start of the range (RFC 3339, inclusive).", valueName: "time"))
    var from: String?

    @Option(help: ArgumentHelp("End of the range (RFC 3339, exclusive).", valueName: "time"))
    var to: String?

    @Option(help: ArgumentHelp("Window size (default: the whole range as one window).", valueName: "size"))
    var window: WindowArgument?

    @Option(help: ArgumentHelp("Only this customer's usage.", valueName: "id"))
    var customer: String?

    @Flag(help: "One row per customer and window.")
    var groupByCustomer = false

    @Option(name: .customLong("group-by"), help: ArgumentHelp("Break usage down by this group-by key of the meter. Repeatable.", valueName: "key"))
    var groupBy: [String] = []

    @Option(name: .customLong("filter"), help: ArgumentHelp("Only usage whose group value for KEY is one of the values. Repeatable.", valueName: "key=v1,v2"))
    var filters: [FilterArgument] = []

    @Flag(help: "Show the current usage: the billing period (PERIODIC) or running total (CUMULATIVE) at --at or now.")
    var current = false

    @Option(help: ArgumentHelp("With --current: the instant (RFC 3339; default now).", valueName: "time"))
    var at: String?

    func validate() throws {
        if current {
            var misplaced: [String] = []
            if from != nil { misplaced.append("--from") }
            if to != nil { misplaced.append("--to") }
            if window != nil { misplaced.append("--window") }
            if groupByCustomer { misplaced.append("--group-by-customer") }
            if !groupBy.isEmpty { misplaced.append("--group-by") }
            if !filters.isEmpty { misplaced.append("--filter") }
            if !misplaced.isEmpty {
                throw ValidationError("\(misplaced.joined(separator: ", ")) cannot be used with --current")
            }
            _ = try timestampOption(at, option: "--at")
        } else {
            guard let from, let to else {
                throw ValidationError("give --from and --to for a range, or --current for the current usage")
            }
            if at != nil { throw ValidationError("--at only applies with --current") }
            let start = try parseTimestampOption(from, option: "--from")
            let end = try parseTimestampOption(to, option: "--to")
            if end <= start { throw ValidationError("--to must be after --from") }
        }
    }

    func run() async throws {
        if current {
            try await runCurrent()
        } else {
            try await runRange()
        }
    }

    /// The QueryUsage request the options describe.
    func queryRequest() throws -> Meterd_V1_QueryUsageRequest {
        var request = Meterd_V1_QueryUsageRequest()
        request.meter = MeterClient.reference(meter)
        request.fromMs = try parseTimestampOption(from ?? "", option: "--from")
        request.toMs = try parseTimestampOption(to ?? "", option: "--to")
        request.windowSize = window?.value ?? .windowUnspecified
        request.customerID = customer ?? ""
        request.groupByCustomer = groupByCustomer
        request.groupBy = groupBy
        request.groupFilters = filters.map(\.filter)
        return request
    }

    private func runRange() async throws {
        let request = try queryRequest()
        let response = try await connection.withClient { client in
            try await client.queryUsage(request)
        }
        let showCustomer = groupByCustomer || customer != nil
        if connection.json {
            print(JSONOutput.array(response.rows.map { Self.rowJSON($0, showCustomer: showCustomer) }).rendered())
            return
        }
        let definition = response.meter.definition
        print("\(definition.displayName) (\(definition.eventName), \(response.meter.id)): \(Describe.formula(definition)), \(Describe.resetPolicy(definition))")
        guard !response.rows.isEmpty else {
            print("no usage")
            return
        }
        var headers = ["WINDOW START", "WINDOW END"]
        if showCustomer { headers.append("CUSTOMER") }
        headers += groupBy.map { $0.uppercased() }
        headers += ["VALUE", "EVENTS"]
        var table = TextTable(headers: headers, rightAligned: [headers.count - 2, headers.count - 1])
        for row in response.rows {
            var cells = [Describe.time(row.windowStartMs), Describe.time(row.windowEndMs)]
            if showCustomer { cells.append(row.customerID) }
            cells += row.group.map { $0.present ? $0.value : "(none)" }
            // A row may carry fewer group values than asked for; keep the columns aligned.
            cells += Array(repeating: "", count: max(0, groupBy.count - row.group.count))
            cells += [row.hasValue_p ? row.value : "-", String(row.eventCount)]
            table.rows.append(cells)
        }
        print(table.rendered())
    }

    private func runCurrent() async throws {
        let reference = MeterClient.reference(meter)
        let customerId = customer ?? ""
        let instant = try timestampOption(at, option: "--at")
        let response = try await connection.withClient { client in
            try await client.currentUsage(reference, customerId: customerId, atMilliseconds: instant)
        }
        if connection.json {
            print(Self.rowJSON(response.row, showCustomer: customer != nil).rendered())
            return
        }
        let definition = response.meter.definition
        let row = response.row
        let window = definition.reset == .periodic ? "billing period" : "running total to"
        let lines: [(String, String)] = [
            ("meter", "\(definition.displayName) (\(definition.eventName), \(response.meter.id))"),
            ("aggregation", Describe.formula(definition)),
            ("reset", Describe.resetPolicy(definition)),
            (window, definition.reset == .periodic
                ? "\(Describe.time(row.windowStartMs)) to \(Describe.time(row.windowEndMs))"
                : Describe.time(row.windowEndMs)),
            ("customer", customer ?? "all customers"),
            ("value", row.hasValue_p ? row.value : "- (no events)"),
            ("events", String(row.eventCount)),
        ]
        let width = lines.map(\.0.count).max() ?? 0
        print(lines.map { $0.0 + ":" + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }.joined(separator: "\n"))
    }

    /// A usage row as JSON: times as RFC 3339 and Unix ms, the value as a decimal string (null
    /// when the window has none), group values by key (null when the events lacked the property).
    static func rowJSON(_ row: Meterd_V1_UsageRow, showCustomer: Bool) -> JSONOutput {
        var members: [(String, JSONOutput)] = [
            ("window_start", .string(Describe.time(row.windowStartMs))),
            ("window_end", .string(Describe.time(row.windowEndMs))),
            ("window_start_ms", .integer(row.windowStartMs)),
            ("window_end_ms", .integer(row.windowEndMs)),
        ]
        if showCustomer || !row.customerID.isEmpty {
            members.append(("customer_id", .string(row.customerID)))
        }
        if !row.group.isEmpty {
            members.append(("group", .object(row.group.map { ($0.key, $0.present ? .string($0.value) : .null) })))
        }
        members.append(("value", row.hasValue_p ? .string(row.value) : .null))
        members.append(("event_count", .integer(row.eventCount)))
        return .object(members)
    }
}
