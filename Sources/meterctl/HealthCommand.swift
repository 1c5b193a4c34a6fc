import ArgumentParser
import MeterClient
import MeterProto

/// `meterctl health`: whether the server accepts writes, and its state.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Show whether the server is serving, and its version, uptime, durability and log positions.",
        discussion: "Exits with status 1 when the server is up but NOT_SERVING (refusing writes), so it can serve as a probe."
    )

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let (health, information, client) = try await connection.withClient { client in
            async let health = client.healthCheck()
            async let information = client.serverInfo()
            return (try await health, try await information, (tenant: client.tenantId, address: client.address))
        }
        let serving = health.status == .serving
        let status: String
        switch health.status {
        case .serving: status = "SERVING"
        case .notServing: status = "NOT_SERVING"
        default: status = "UNKNOWN(\(health.status.rawValue))"
        }
        if connection.json {
            print(JSONOutput.object([
                ("status", .string(status)),
                ("message", health.message.isEmpty ? .null : .string(health.message)),
                ("address", .string(client.address.description)),
                ("tenant", .string(client.tenant)),
                ("version", .string(information.version)),
                ("uptime_ms", .integer(information.uptimeMs)),
                ("durability", .string(information.durability)),
                ("last_applied_sequence", .unsignedInteger(information.lastAppliedSequence)),
                ("first_retained_sequence", .unsignedInteger(information.firstRetainedSequence)),
                ("group_commits", .unsignedInteger(information.groupCommits)),
                ("syncs", .unsignedInteger(information.syncs)),
                ("failure", information.failure.isEmpty ? .null : .string(information.failure)),
            ]).rendered())
        } else {
            var lines: [(String, String)] = [
                ("status", health.message.isEmpty || health.message.uppercased() == status ? status : "\(status): \(health.message)"),
                ("server", "meterd \(information.version) at \(client.address), tenant \(client.tenant)"),
                ("uptime", Self.describeDuration(milliseconds: information.uptimeMs)),
                ("durability", information.durability),
                ("log", "applied through position \(information.lastAppliedSequence), oldest retained \(information.firstRetainedSequence)"),
                ("group commits", "\(information.groupCommits) (\(information.syncs) syncs)"),
            ]
            if !information.failure.isEmpty {
                lines.append(("failure", information.failure))
            }
            let width = lines.map(\.0.count).max() ?? 0
            print(lines.map { $0.0 + ":" + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }.joined(separator: "\n"))
        }
        if !serving {
            throw ExitCode(1)
        }
    }

    /// `2d 3h 4m 5s`, leaving out leading zero units.
    static func describeDuration(milliseconds: Int64) -> String {
        var seconds = max(0, milliseconds / 1_000)
        let days = seconds / 86_400
        seconds %= 86_400
        let hours = seconds / 3_600
        seconds %= 3_600
        let minutes = seconds / 60
        seconds %= 60
        var parts: [String] = []
        if days > 0 { parts.append("\(days)d") }
        if days > 0 || hours > 0 { parts.append("\(hours)h") }
        if days > 0 || hours > 0 || minutes > 0 { parts.append("\(minutes)m") }
        parts.append("\(seconds)s")
        return parts.joined(separator: " ")
    }
}
