import ArgumentParser
import MeterClient
import MeterProto

/// `meterctl keys create|list|revoke`: the tenant's API keys (admin role).
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, list and revoke the tenant's API keys.",
        subcommands: [CreateKeyCommand.self, ListKeysCommand.self, RevokeKeyCommand.self]
    )
}

/// `meterctl keys create NAME --role ROLE`.
struct CreateKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create an API key and print its secret, which is shown only this once.",
        discussion: "Roles: admin (everything), ingest (send events only), read (meters, usage, health)."
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "A name for the key (1-64 printable characters), such as the service that will use it.")
    var name: String

    @Option(help: "admin, ingest or read.")
    var role: String

    func validate() throws {
        guard KeyRoleName.proto(role) != nil else { throw ValidationError("--role must be admin, ingest or read, not \"\(role)\"") }
    }

    func run() async throws {
        let name = name
        let role = KeyRoleName.proto(role)!
        let created = try await connection.withClient { client in try await client.createApiKey(name: name, role: role) }
        if connection.json {
            print(JSONOutput.object(KeyRoleName.json(created.key) + [("secret", .string(created.secret))]).rendered())
            return
        }
        print(KeyRoleName.details(created.key))
        print("secret:      \(created.secret)")
        print("(shown only now: the server keeps only its SHA-256)")
    }
}

/// `meterctl keys list`.
struct ListKeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the tenant's API keys (never their secrets).")

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Also list revoked keys.")
    var includeRevoked = false

    func run() async throws {
        let includeRevoked = includeRevoked
        let keys = try await connection.withClient { client in try await client.listApiKeys(includeRevoked: includeRevoked) }
        connection.printListing(keys, json: { .object(KeyRoleName.json($0)) }, empty: includeRevoked ? "no keys" : "no active keys",
                                table: TextTable(headers: ["ID", "NAME", "ROLE", "CREATED", "CREATED BY", "REVOKED"], rightAligned: [])) { key in
            [key.id, key.name, KeyRoleName.name(key.role), Describe.time(key.createdAtMs), key.createdBy,
             key.revokedAtMs == 0 ? "-" : Describe.time(key.revokedAtMs)]
        }
    }
}

/// `meterctl keys revoke KEY_ID`.
struct RevokeKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke an API key: refused from the next request on, also on connections already open."
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The key's id (key_...).")
    var id: String

    func run() async throws {
        let id = id
        let key = try await connection.withClient { client in try await client.revokeApiKey(id: id) }
        connection.printObject(KeyRoleName.json(key), text: KeyRoleName.details(key))
    }
}

/// Role names and key output shared by the key commands.
enum KeyRoleName {
    static func proto(_ name: String) -> Meterd_V1_KeyRole? {
        switch name {
        case "admin": return .admin
        case "ingest": return .ingest
        case "read": return .read
        default: return nil
        }
    }

    static func name(_ role: Meterd_V1_KeyRole) -> String {
        switch role {
        case .admin: return "admin"
        case .ingest: return "ingest"
        case .read: return "read"
        default: return "unknown(\(role.rawValue))"
        }
    }

    static func json(_ key: Meterd_V1_ApiKey) -> [(String, JSONOutput)] {
        [
            ("id", .string(key.id)), ("name", .string(key.name)), ("role", .string(name(key.role))),
            ("tenant_id", .string(key.tenantID)), ("created_at", .string(Describe.time(key.createdAtMs))),
            ("created_by", .string(key.createdBy)),
            ("revoked_at", key.revokedAtMs == 0 ? .null : .string(Describe.time(key.revokedAtMs))),
        ]
    }

    static func details(_ key: Meterd_V1_ApiKey) -> String {
        var lines = [
            "id:          \(key.id)", "name:        \(key.name)", "role:        \(name(key.role))",
            "tenant:      \(key.tenantID)", "created:     \(Describe.time(key.createdAtMs)) by \(key.createdBy)",
        ]
        if key.revokedAtMs != 0 { lines.append("revoked:     \(Describe.time(key.revokedAtMs))") }
        return lines.joined(separator: "\n")
    }
}
