import NIOSSL

/// TLS settings for a TCP connection to meterd: the CA certificates that the server's
/// certificate must chain to (nil: the system's), and for mutual TLS a client certificate
/// chain and key, all PEM files. `serverName` overrides the name checked in the server's
/// certificate (default: the address's host; an IP address is checked against the
/// certificate's IP addresses).
public struct MeterClientTLS: Sendable, Hashable {
    public var certificateAuthorityPath: String?
    public var certificateChainPath: String?
    public var privateKeyPath: String?
    public var serverName: String?

    public init(certificateAuthorityPath: String? = nil, certificateChainPath: String? = nil, privateKeyPath: String? = nil,
                serverName: String? = nil) {
        self.certificateAuthorityPath = certificateAuthorityPath
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
        self.serverName = serverName
    }

    func makeContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let certificateAuthorityPath { configuration.trustRoots = .file(certificateAuthorityPath) }
        if let certificateChainPath {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateChainPath).map { .certificate($0) }
        }
        if let privateKeyPath { configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)) }
        return try NIOSSLContext(configuration: configuration)
    }

    static func isIPAddress(_ host: String) -> Bool {
        host.contains(":") || (!host.isEmpty && host.allSatisfy { $0.isNumber || $0 == "." })
    }
}
