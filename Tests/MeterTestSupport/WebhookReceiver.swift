#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A real HTTP/1.1 server on 127.0.0.1 for webhook tests: answers 500 to the first
/// `failuresBeforeSuccess` requests, then 200, and records every request it read.
public final class WebhookReceiver: @unchecked Sendable {
    public struct Received: Equatable, Sendable {
        public var deliveryId: String
        public var signature: String
        public var body: [UInt8]
        public var answered: Int
    }

    public let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var failuresLeft: Int
    private let answer: (@Sendable (Int) -> Int)?
    private var received: [Received] = []

    /// `answer`, when given, picks the status of request number N (0-based) instead.
    public init(failuresBeforeSuccess: Int = 0, answer: (@Sendable (Int) -> Int)? = nil) throws {
        failuresLeft = failuresBeforeSuccess
        self.answer = answer
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(listener, 16) == 0 else { throw NSError(domain: "receiver", code: Int(errno)) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        self.port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    public var requests: [Received] { lock.withLock { received } }

    public func close() { shutdown(listener, Int32(SHUT_RDWR)); Glibc.close(listener) }

    private func serve() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            handle(connection)
            Glibc.close(connection)
        }
    }

    private func handle(_ connection: Int32) {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var headerEnd: Int?
        var contentLength = 0
        while true {
            let count = read(connection, &buffer, buffer.count)
            guard count > 0 else { return }
            bytes += buffer[0..<count]
            if headerEnd == nil, let range = bytes.firstRange(of: Array("\r\n\r\n".utf8)) {
                headerEnd = range.upperBound
                let head = String(decoding: bytes[0..<range.lowerBound], as: UTF8.self).lowercased()
                for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                    contentLength = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
            if let headerEnd, bytes.count >= headerEnd + contentLength { break }
        }
        let end = headerEnd!
        let head = String(decoding: bytes[0..<end], as: UTF8.self)
        func header(_ name: String) -> String {
            for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix(name.lowercased() + ":") {
                return line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
            }
            return ""
        }
        let status: Int = lock.withLock {
            var status = failuresLeft > 0 ? 500 : 200
            if failuresLeft > 0 { failuresLeft -= 1 }
            if let answer { status = answer(received.count) }
            received.append(Received(deliveryId: header("Meterd-Delivery"), signature: header("Meterd-Signature"),
                                     body: Array(bytes[end..<(end + contentLength)]), answered: status))
            return status
        }
        let reply = Array("HTTP/1.1 \(status) \(status == 200 ? "OK" : "Internal Server Error")\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
        _ = reply.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
    }
}
