import ArgumentParser
import MeterProto

/// Normalises an enum-like argument: upper case, with `-` and spaces read as `_`.
private func normalizedName(_ text: String) -> String {
    String(text.uppercased().map { $0 == "-" || $0 == " " ? "_" : $0 })
}

/// `--aggregation`: COUNT, SUM, AVG, MIN, MAX, COUNT_UNIQUE or LATEST, in any case.
struct AggregationArgument: ExpressibleByArgument {
    static let names: [(String, Meterd_V1_Aggregation)] = [
        ("COUNT", .count), ("SUM", .sum), ("AVG", .avg), ("MIN", .min), ("MAX", .max),
        ("COUNT_UNIQUE", .countUnique), ("LATEST", .latest),
    ]

    var value: Meterd_V1_Aggregation

    init?(argument: String) {
        let name = normalizedName(argument)
        let aliases = ["AVERAGE": "AVG", "MINIMUM": "MIN", "MAXIMUM": "MAX", "COUNTUNIQUE": "COUNT_UNIQUE", "UNIQUE": "COUNT_UNIQUE"]
        guard let match = Self.names.first(where: { $0.0 == (aliases[name] ?? name) }) else { return nil }
        value = match.1
    }

    static var allValueStrings: [String] { names.map(\.0) }
}

/// `--reset`: periodic or cumulative.
struct ResetArgument: ExpressibleByArgument {
    var value: Meterd_V1_ResetMode

    init?(argument: String) {
        switch normalizedName(argument) {
        case "PERIODIC": value = .periodic
        case "CUMULATIVE": value = .cumulative
        default: return nil
        }
    }

    static var allValueStrings: [String] { ["periodic", "cumulative"] }
}

/// `--period`: daily, weekly, monthly, quarterly or annual.
struct PeriodArgument: ExpressibleByArgument {
    static let names: [(String, Meterd_V1_BillingPeriod)] = [
        ("daily", .daily), ("weekly", .weekly), ("monthly", .monthly), ("quarterly", .quarterly), ("annual", .annual),
    ]

    var value: Meterd_V1_BillingPeriod

    init?(argument: String) {
        var name = argument.lowercased()
        if name == "yearly" { name = "annual" }
        guard let match = Self.names.first(where: { $0.0 == name }) else { return nil }
        value = match.1
    }

    static var allValueStrings: [String] { names.map(\.0) }
}

/// `--window`: the protocol's names (HOUR, FIFTEEN_MINUTES, ...) or short ones (15MIN, 3HOUR, 1d).
struct WindowArgument: ExpressibleByArgument {
    static let names: [(String, Meterd_V1_WindowSize)] = [
        ("MINUTE", .minute), ("FIFTEEN_MINUTES", .fifteenMinutes), ("THIRTY_MINUTES", .thirtyMinutes),
        ("HOUR", .hour), ("THREE_HOURS", .threeHours), ("SIX_HOURS", .sixHours), ("TWELVE_HOURS", .twelveHours),
        ("DAY", .day), ("WEEK", .week), ("MONTH", .month),
    ]
    private static let aliases: [String: String] = [
        "1MIN": "MINUTE", "MIN": "MINUTE", "1M": "MINUTE", "MINUTES": "MINUTE",
        "15MIN": "FIFTEEN_MINUTES", "15MINUTES": "FIFTEEN_MINUTES", "15M": "FIFTEEN_MINUTES",
        "30MIN": "THIRTY_MINUTES", "30MINUTES": "THIRTY_MINUTES", "30M": "THIRTY_MINUTES",
        "1HOUR": "HOUR", "HOURS": "HOUR", "1H": "HOUR", "H": "HOUR",
        "3HOUR": "THREE_HOURS", "3HOURS": "THREE_HOURS", "3H": "THREE_HOURS",
        "6HOUR": "SIX_HOURS", "6HOURS": "SIX_HOURS", "6H": "SIX_HOURS",
        "12HOUR": "TWELVE_HOURS", "12HOURS": "TWELVE_HOURS", "12H": "TWELVE_HOURS",
        "1DAY": "DAY", "DAYS": "DAY", "1D": "DAY", "D": "DAY",
        "1WEEK": "WEEK", "WEEKS": "WEEK", "1W": "WEEK", "W": "WEEK",
        "1MONTH": "MONTH", "MONTHS": "MONTH",
    ]

    var value: Meterd_V1_WindowSize

    init?(argument: String) {
        let name = normalizedName(argument)
        let compact = name.filter { $0 != "_" }
        let canonical = Self.aliases[compact] ?? name
        guard let match = Self.names.first(where: { $0.0 == canonical }) else { return nil }
        value = match.1
    }

    static var allValueStrings: [String] { names.map(\.0) }
}

/// `--filter KEY=V1,V2`: a property key and the values it may take.
struct FilterArgument: ExpressibleByArgument {
    var filter: Meterd_V1_MeterFilter

    init?(argument: String) {
        guard let equals = argument.firstIndex(of: "=") else { return nil }
        let key = String(argument[..<equals])
        let values = argument[argument.index(after: equals)...].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !key.isEmpty, !values.isEmpty, !values.contains(where: \.isEmpty) else { return nil }
        filter = Meterd_V1_MeterFilter()
        filter.key = key
        filter.values = values
    }

    static var defaultCompletionKind: CompletionKind { .default }
}
