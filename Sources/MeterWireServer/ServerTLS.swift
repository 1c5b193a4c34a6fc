import NIOSSL

/// TLS on the TCP listener (docs/security.md): a certificate chain and key in PEM files, and,
/// for mutual TLS, the CA that client certificates must chain to (a client without one is
/// refused during the TLS handshake). The Unix socket never uses TLS: the kernel already
/// tells who the peer is.
public struct ServerTLS: Sendable, Hashable {
    public var certificateChainPath: String
    public var privateKeyPath: String
    /// CA certificates (PEM) that client certificates must chain to; nil: no client certificates.
    public var clientCertificateAuthorityPath: String?

    public init(certificateChainPath: String, privateKeyPath: String, clientCertificateAuthorityPath: String? = nil) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
        self.clientCertificateAuthorityPath = clientCertificateAuthorityPath
    }

    /// Loads the files; throws a `ServerError` naming the file that does not load.
    func makeContext() throws -> NIOSSLContext {
        let configuration = try makeConfiguration()
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw ServerError("cannot set up TLS (certificate \(certificateChainPath), key \(privateKeyPath), client CA \(clientCertificateAuthorityPath ?? "none")): \(error)")
        }
    }

    /// The server's TLS configuration (TLS 1.2 or later; client certificates when a client CA is
    /// set), for listeners that build their own context (the HTTP listener). Loads the files;
    /// throws a `ServerError` naming the file that does not load.
    public func makeConfiguration() throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateChainPath)
        } catch {
            throw ServerError("cannot load the TLS certificate chain \(certificateChainPath): \(error)")
        }
        guard !chain.isEmpty else { throw ServerError("no certificate in \(certificateChainPath)") }
        do {
            key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        } catch {
            throw ServerError("cannot load the TLS private key \(privateKeyPath): \(error)")
        }
        var configuration: TLSConfiguration
        if let clientCertificateAuthorityPath {
            configuration = .makeServerConfigurationWithMTLS(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key),
                trustRoots: .file(clientCertificateAuthorityPath))
        } else {
            configuration = .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        }
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }
}
