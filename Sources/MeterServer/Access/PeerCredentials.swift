#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// The user id of the process at the other end of a Unix-domain socket, as the kernel saw it
/// when it connected (SO_PEERCRED): it cannot be forged by the client.
enum PeerCredentials {
    /// Linux's `struct ucred`.
    private struct KernelCredentials: Sendable {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
    }

    /// The peer's uid, or nil when `channel` is not a Unix-domain socket or the kernel does not
    /// say. Called on the channel's event loop, where reading the option completes at once.
    static func uid(of channel: any Channel) -> UInt32? {
        guard case .unixDomainSocket = channel.localAddress else { return nil }
        #if os(Linux)
        guard let provider = channel as? any SocketOptionProvider else { return nil }
        let future: EventLoopFuture<KernelCredentials> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        var uid: UInt32?
        future.assumeIsolated().whenSuccess { uid = $0.uid }
        return uid
        #else
        return nil
        #endif
    }
}
