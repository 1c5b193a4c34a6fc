import ArgumentParser
import MeterClient
import MeterCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The root command: `meterctl meters|ingest|usage|health ...`.
struct MeterControl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meterctl",
        abstract: "Administer a meterd usage-metering server.",
        discussion: """
            Every command connects to the server given by --socket PATH (default ./meterd.sock) or \
            --tcp HOST:PORT, authenticates with --api-key or $METERD_API_KEY (needed on TCP; on the \
            socket meterd's own user needs none), acts for the key's tenant (or --tenant, default \
            "default" without a key), and prints JSON with --json.

            Exit status: 0 on success, 1 when the server refuses a request or cannot be reached \
            (its message is printed on standard error), 2 for a usage error.
            """,
        subcommands: [MetersCommand.self, IngestCommand.self, UsageCommand.self, HealthCommand.self, KeysCommand.self, AuditCommand.self,
                      EntitlementsCommand.self, ThresholdsCommand.self, NotificationsCommand.self, WebhooksCommand.self]
    )

    /// Parses the arguments, runs the command and exits: 0 on success, 1 for failures (the
    /// server's message on standard error), 2 for usage errors.
    static func runAndExit() async -> Never {
        let code: Int32
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            code = 0
        } catch let error as MeterClientError {
            printToStandardError("meterctl: \(error)")
            code = 1
        } catch let error as CommandFailure {
            printToStandardError("meterctl: \(error.message)")
            code = 1
        } catch {
            let exitCode = exitCode(for: error)
            let message = fullMessage(for: error)
            if exitCode == .success {
                if !message.isEmpty { print(message) }
                code = 0
            } else {
                if !message.isEmpty { printToStandardError(message) }
                code = exitCode == .validationFailure ? 2 : exitCode.rawValue
            }
        }
        fflush(nil)
        terminateProcess(code)
    }
}

/// A failure of the command itself (not of the server): the message is printed, exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    var message: String

    init(_ message: String) {
        self.message = message
    }

    var description: String { message }
}

/// Options every subcommand takes: where the server is, which tenant, and the output format.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Unix-domain socket of the server (default: ./meterd.sock).", valueName: "path"))
    var socket: String?

    @Option(name: .long, help: ArgumentHelp("TCP address of the server, instead of a socket.", valueName: "host:port"))
    var tcp: String?

    @Option(name: .long, help: ArgumentHelp("The tenant to act for (default: the API key's; without a key, \"default\"). Another tenant than the key's is refused.", valueName: "id"))
    var tenant: String?

    @Option(name: .customLong("api-key"), help: ArgumentHelp("API key secret (mk_...); default $METERD_API_KEY. Required on TCP.", valueName: "secret"))
    var apiKey: String?

    @Option(name: .customLong("tls-ca"), help: ArgumentHelp("TLS over --tcp: CA certificates (PEM) the server's certificate must chain to.", valueName: "path"))
    var tlsCertificateAuthority: String?

    @Option(name: .customLong("tls-certificate"), help: ArgumentHelp("Mutual TLS: client certificate chain (PEM, with --tls-key).", valueName: "path"))
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("Mutual TLS: the client certificate's private key (PEM).", valueName: "path"))
    var tlsKey: String?

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        if socket != nil, tcp != nil {
            throw ValidationError("use either --socket or --tcp, not both")
        }
        if let tcp, MeterAddress(parsing: "tcp:" + tcp) == nil {
            throw ValidationError("--tcp needs HOST:PORT with a port from 1 to 65535 (\"[::1]:7070\" for IPv6), not \"\(tcp)\"")
        }
        if (tlsCertificate == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-certificate and --tls-key go together")
        }
        if tcp == nil, tlsCertificateAuthority != nil || tlsCertificate != nil {
            throw ValidationError("the --tls options are for --tcp")
        }
        if socket?.isEmpty == true {
            throw ValidationError("--socket needs a path")
        }
    }

    /// The server's address from --tcp or --socket.
    var address: MeterAddress {
        if let tcp, let address = MeterAddress(parsing: "tcp:" + tcp) {
            return address
        }
        return .unixSocket(path: socket ?? "./meterd.sock")
    }

    /// Connects and performs the handshake.
    func connect() async throws(MeterClientError) -> MeterClient {
        try await MeterClient.connect(to: address, tenantId: tenant ?? "", clientName: "meterctl", credential: credential, tls: tls)
    }

    /// TLS when any --tls option is given.
    var tls: MeterClientTLS? {
        guard tlsCertificateAuthority != nil || tlsCertificate != nil else { return nil }
        return MeterClientTLS(certificateAuthorityPath: tlsCertificateAuthority, certificateChainPath: tlsCertificate, privateKeyPath: tlsKey)
    }

    /// --api-key, else $METERD_API_KEY, else none.
    var credential: String {
        if let apiKey { return apiKey }
        if let fromEnvironment = getenv("METERD_API_KEY") { return String(cString: fromEnvironment) }
        return ""
    }

    /// Connects, runs `body` with the client, and closes the connection whatever happens.
    func withClient<Result>(_ body: (MeterClient) async throws -> Result) async throws -> Result {
        let client = try await connect()
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }
}

/// Ends the process with `status` (a free function: inside a command, `exit` names
/// ArgumentParser's `exit(withError:)`).
func terminateProcess(_ status: Int32) -> Never {
    exit(status)
}

/// Writes a line to standard error.
func printToStandardError(_ text: String) {
    writeToStandardError(text + "\n")
}

/// Writes text to standard error, unbuffered.
func writeToStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
            if written <= 0 { return }
            offset += written
        }
    }
}

/// Whether standard error is a terminal (progress lines are only drawn there).
var standardErrorIsTerminal: Bool { isatty(2) == 1 }

/// Parses an RFC 3339 timestamp option, or throws a usage error naming the option.
func parseTimestampOption(_ text: String, option: String) throws -> Int64 {
    guard let milliseconds = CivilTime.parseRFC3339(text) else {
        throw ValidationError("\(option) needs an RFC 3339 timestamp such as 2026-01-31T00:00:00Z, not \"\(text)\"")
    }
    return milliseconds
}
