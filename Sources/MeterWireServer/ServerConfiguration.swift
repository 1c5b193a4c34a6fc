import MeterWire

/// Where and how a wire server listens, its limits and timeouts. Defaults are meterd's
/// documented ones (`meterd --help`); meter-sidecar sets its own.
public struct ServerConfiguration: Sendable {
    /// Unix-domain socket path; nil switches the socket off.
    public var unixSocketPath: String? = "./meterd.sock"
    /// Permission bits of the socket file. Default 0600: only the owner may connect.
    public var unixSocketPermissions: UInt16 = 0o600
    /// TCP host; nil switches TCP off. Default 127.0.0.1 (this host only).
    public var tcpHost: String? = "127.0.0.1"
    /// TCP port; 0 picks a free port (printed at start).
    public var tcpPort: Int = 7878
    public var limits = WireLimits()
    /// Most open connections; more are answered with GOAWAY and closed.
    public var maximumConnections = 1024
    /// A connection must finish its preface and handshake within this time.
    public var handshakeTimeout: Duration = .seconds(10)
    /// A connection with no traffic for this long is closed.
    public var idleTimeout: Duration = .seconds(300)
    /// Unwritten reply bytes on a connection above which the server stops reading from it
    /// (NIO's write-buffer high water mark); reading resumes below the low mark. A client that
    /// does not read its replies is thereby held to about this much queued output, plus the
    /// replies still in flight (`limits.maximumInFlight` of at most its `max_frame_bytes`).
    public var writeBufferHighWaterMarkBytes = 256 << 10
    /// See `writeBufferHighWaterMarkBytes`.
    public var writeBufferLowWaterMarkBytes = 128 << 10
    /// TLS on the TCP listener; nil: plaintext TCP (refused by meterd on a non-loopback address
    /// unless allowed explicitly).
    public var tls: ServerTLS?
    /// Version string announced in the handshake and ServerInfo.
    public var serverVersion = "0.1.0"
    /// Which tenant a handshake gets (default: the one it names, "default" when it names none).
    public var tenantAdmission = TenantAdmission.anyNamed
    /// Decides who a connection is from its handshake's credential (meterd's access control);
    /// when set it replaces `tenantAdmission`.
    public var authenticator: (any ConnectionAuthenticating)?

    public init() {}
}
