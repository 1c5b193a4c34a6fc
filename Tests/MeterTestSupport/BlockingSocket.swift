import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking stream socket connected to a Unix-domain socket path or to 127.0.0.1:port: the one
/// connect behind the raw wire client, the metrics test's HTTP GET and meter-compare's meterd
/// client.
public enum BlockingSocket {
    /// Where to connect.
    public enum Address: Sendable {
        case unix(String)
        case tcp(port: Int)
    }

    /// A connected descriptor, which the caller closes. `receiveBufferBytes` sets SO_RCVBUF
    /// before connecting; `receiveTimeoutSeconds` sets SO_RCVTIMEO, so a missing reply fails
    /// instead of hanging. A failure closes the socket and throws `RawClientError`.
    public static func connect(_ address: Address, receiveBufferBytes: Int32? = nil, receiveTimeoutSeconds: Int? = nil) throws -> Int32 {
        let family = switch address { case .unix: AF_UNIX; case .tcp: AF_INET }
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw RawClientError("socket: \(String(cString: strerror(errno)))") }
        if var size = receiveBufferBytes {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        let result: Int32
        let name: String
        switch address {
        case .unix(let path):
            name = path
            var socketAddress = sockaddr_un()
            socketAddress.sun_family = sa_family_t(AF_UNIX)
            let pathBytes = Array(path.utf8)
            guard pathBytes.count < MemoryLayout.size(ofValue: socketAddress.sun_path) else {
                close(descriptor)
                throw RawClientError("socket path \(path) is too long")
            }
            withUnsafeMutableBytes(of: &socketAddress.sun_path) { raw in raw.copyBytes(from: pathBytes + [0]) }
            result = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        case .tcp(let port):
            name = "127.0.0.1:\(port)"
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = in_port_t(UInt16(port).bigEndian)
            socketAddress.sin_addr.s_addr = inet_addr("127.0.0.1")
            result = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw RawClientError("connect \(name): \(reason)")
        }
        if let seconds = receiveTimeoutSeconds {
            var timeout = timeval(tv_sec: seconds, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        return descriptor
    }
}
