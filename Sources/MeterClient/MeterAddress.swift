/// Where a meterd server listens: a Unix-domain socket path or a TCP host and port.
public enum MeterAddress: Hashable, Sendable, CustomStringConvertible {
    case unixSocket(path: String)
    case tcp(host: String, port: Int)

    /// Parses the address forms the tools accept:
    ///
    /// - `unix:PATH` — a Unix-domain socket (`unix:/run/meterd.sock`, `unix:meterd.sock`);
    /// - a path containing `/` or ending in `.sock` — a Unix-domain socket (`./meterd.sock`);
    /// - `tcp:HOST:PORT` or `HOST:PORT` — TCP (`localhost:7070`, `10.0.0.5:7070`,
    ///   `[::1]:7070` for an IPv6 literal); the port must be 1...65535.
    ///
    /// Returns nil for anything else (an empty string, a host without a port, a bad port).
    public init?(parsing text: String) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst("unix:".count))
            guard !path.isEmpty else { return nil }
            self = .unixSocket(path: path)
            return
        }
        if text.hasPrefix("tcp:") {
            guard let (host, port) = Self.hostAndPort(String(text.dropFirst("tcp:".count))) else { return nil }
            self = .tcp(host: host, port: port)
            return
        }
        if text.contains("/") || text.hasSuffix(".sock") {
            self = .unixSocket(path: text)
            return
        }
        guard let (host, port) = Self.hostAndPort(text) else { return nil }
        self = .tcp(host: host, port: port)
    }

    /// Splits `HOST:PORT` (or `[IPV6]:PORT`) at the last colon.
    private static func hostAndPort(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        guard !portText.isEmpty, portText.allSatisfy(\.isASCII), portText.allSatisfy(\.isNumber),
              let port = Int(portText), (1...65_535).contains(port)
        else { return nil }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else { return nil }
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            // An IPv6 literal must be bracketed, or its last group would read as the port.
            return nil
        }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace) else { return nil }
        return (host, port)
    }

    /// `unix:PATH` or `HOST:PORT` (IPv6 literals bracketed); parses back to the same address.
    public var description: String {
        switch self {
        case .unixSocket(let path): return "unix:\(path)"
        case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}
