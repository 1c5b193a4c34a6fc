import Foundation
import MeterProto
import MeterWire
import NIOCore
import SwiftProtobuf
import XCTest

/// A deliberately simple blocking client on a real socket, for tests that must also send
/// malformed bytes. Reads time out (SO_RCVTIMEO), so a missing reply fails the test instead of
/// hanging it.
final class RawWireClient {
    let descriptor: Int32
    private var buffer = ByteBuffer()
    private var nextStream: UInt32 = 1

    enum Address {
        case unix(String)
        case tcp(port: Int)
    }

    /// `receiveBufferBytes` sets SO_RCVBUF before connecting (a small one makes a client that
    /// does not read stall the server's writes quickly).
    init(_ address: Address, timeoutSeconds: Int = 10, receiveBufferBytes: Int32? = nil) throws {
        let family = switch address { case .unix: AF_UNIX; case .tcp: AF_INET }
        descriptor = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBufferBytes {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        switch address {
        case .unix(let path):
            var socketAddress = sockaddr_un()
            socketAddress.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &socketAddress.sun_path) { raw in
                raw.copyBytes(from: Array(path.utf8) + [0])
            }
            let result = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard result == 0 else { throw RawClientError("connect \(path): \(String(cString: strerror(errno)))") }
        case .tcp(let port):
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = in_port_t(UInt16(port).bigEndian)
            socketAddress.sin_addr.s_addr = inet_addr("127.0.0.1")
            let result = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard result == 0 else { throw RawClientError("connect 127.0.0.1:\(port): \(String(cString: strerror(errno)))") }
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw RawClientError("send: \(String(cString: strerror(errno)))") }
            offset += written
        }
    }

    func send(_ frame: WireFrame) throws {
        var out = ByteBuffer()
        FrameEncoder.write(frame, to: &out)
        try send(Array(out.readableBytesView))
    }

    /// Preface plus HANDSHAKE; returns the server's HANDSHAKE_ACK.
    @discardableResult
    func handshake(tenant: String = "default", maximumFrameBytes: UInt32 = 0, credential: String = "") throws -> Meterd_V1_HandshakeAck {
        try sendHandshake(tenant: tenant, maximumFrameBytes: maximumFrameBytes, credential: credential)
        let reply = try XCTUnwrap(try readFrame(), "no HANDSHAKE_ACK")
        guard reply.type == .handshakeAck else { throw RawClientError("expected HANDSHAKE_ACK, got \(reply.type): \(goAwayReason(reply))") }
        return try ProtobufPayload.decode(Meterd_V1_HandshakeAck.self, from: reply.payload)
    }

    /// Sends the preface and a HANDSHAKE, and reads nothing.
    func sendHandshake(tenant: String = "default", maximumFrameBytes: UInt32 = 0, credential: String = "") throws {
        try send(WirePreface.bytes)
        var message = Meterd_V1_Handshake()
        message.protocolVersion = 1
        message.maxFrameBytes = maximumFrameBytes
        message.clientName = "raw-test-client"
        message.tenantID = tenant
        message.credential = credential
        try send(WireFrame(type: .handshake, payload: try ProtobufPayload.encode(message)))
    }

    /// A handshake the server must refuse: returns the GOAWAY's header code and reason, and
    /// checks that the connection is closed after it.
    func refusedHandshake(tenant: String = "", credential: String = "") throws -> (code: StatusCode, reason: String) {
        try sendHandshake(tenant: tenant, credential: credential)
        let reply = try XCTUnwrap(try readFrame(), "connection closed without a GOAWAY")
        guard reply.type == .goAway else { throw RawClientError("expected a GOAWAY, got \(reply.type)") }
        XCTAssertNil(try readFrame(), "the connection stays open after the refusal")
        return (StatusCode(rawValue: reply.code), goAwayReason(reply))
    }

    /// The next frame, or nil when the server closed the connection.
    func readFrame() throws -> WireFrame? {
        while true {
            if let frame = try FrameDecoder.readFrame(from: &buffer, maximumFrameBytes: 64 << 20) { return frame }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count == 0 { return nil }
            guard count > 0 else {
                if errno == ECONNRESET { return nil }
                throw RawClientError("recv: \(String(cString: strerror(errno)))")
            }
            buffer.writeBytes(chunk[..<count])
        }
    }

    /// Sends a request and waits for its response (any other frames in between are returned in order first... none expected).
    func call<Response: SwiftProtobuf.Message>(_ method: MethodID, _ request: some SwiftProtobuf.Message, as: Response.Type) throws -> Result<Response, Meterd_V1_ErrorDetail> {
        let stream = nextStream
        nextStream += 2
        try send(WireFrame(type: .request, code: method.rawValue, streamId: stream, payload: try ProtobufPayload.encode(request)))
        let reply = try XCTUnwrap(try readFrame(), "connection closed instead of answering \(method)")
        XCTAssertEqual(reply.type, .response, goAwayReason(reply))
        XCTAssertEqual(reply.streamId, stream)
        if reply.code == 0 { return .success(try ProtobufPayload.decode(Response.self, from: reply.payload)) }
        return .failure(try ProtobufPayload.decode(Meterd_V1_ErrorDetail.self, from: reply.payload))
    }

    func goAwayReason(_ frame: WireFrame) -> String {
        guard frame.type == .goAway, let message = try? ProtobufPayload.decode(Meterd_V1_GoAway.self, from: frame.payload) else { return "" }
        return message.reason
    }
}

struct RawClientError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A real `meterd` child process on a temporary socket, TCP port and data directory.
final class ServerProcess {
    let directory: String
    let socketPath: String
    private(set) var child: ChildProcess
    private(set) var tcpPort = 0
    /// The metrics port, when started with --metrics.
    private(set) var metricsPort: Int?
    /// What meterd printed on standard output until it listened.
    private(set) var startLines: [String] = []
    let extraArguments: [String]

    init(_ test: XCTestCase, arguments: [String] = [], directory: String? = nil) throws {
        let base = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("meterd-server-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        self.directory = base
        socketPath = base + "/meterd.sock"
        extraArguments = arguments
        child = try Self.launch(directory: base, socketPath: socketPath, arguments: arguments)
        try waitUntilListening()
        if directory == nil {
            test.addTeardownBlock { [base] in try? FileManager.default.removeItem(atPath: base) }
        }
    }

    private static func launch(directory: String, socketPath: String, arguments: [String]) throws -> ChildProcess {
        try ChildProcess("meterd", ["--data-dir", directory + "/data", "--socket", socketPath, "--tcp", "127.0.0.1:0"] + arguments)
    }

    /// Reads meterd's start-up lines until it says where it listens; notes the TCP (and metrics) port.
    private func waitUntilListening() throws {
        startLines = []
        while let line = child.nextLine() {
            startLines.append(line)
            if line.hasPrefix("meterd: metrics on http://127.0.0.1:") {
                metricsPort = Int(line.dropFirst("meterd: metrics on http://127.0.0.1:".count).prefix { $0.isNumber })
            }
            if line.hasPrefix("meterd: listening on"), let range = line.range(of: "tcp:127.0.0.1:") {
                let digits = line[range.upperBound...].prefix { $0.isNumber }
                tcpPort = Int(digits)!
                return
            }
        }
        let exit = child.wait()
        throw RawClientError("meterd exited before listening: \(exit.errorOutput)")
    }

    /// The bootstrap admin key meterd wrote into its new data directory.
    var bootstrapKey: String {
        ((try? String(contentsOfFile: directory + "/data/bootstrap-admin.key", encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func restart() throws {
        child = try Self.launch(directory: directory, socketPath: socketPath, arguments: extraArguments)
        try waitUntilListening()
    }

    /// SIGTERM and wait; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        child.signal(SIGTERM)
        return child.wait().status
    }

    /// SIGTERM and wait; the exit status and everything written to standard error.
    func stopCollectingErrors() -> (status: Int32, errorOutput: String) {
        child.signal(SIGTERM)
        let exit = child.wait()
        return (exit.status, exit.errorOutput)
    }

    /// The server's resident memory in KiB, from /proc.
    var residentKibibytes: Int {
        let status = (try? String(contentsOfFile: "/proc/\(child.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
}

/// Lets a call return the server's error detail as a `Result` failure.
extension Meterd_V1_ErrorDetail: Error {}
