import Foundation
import MeterTestSupport

/// One blocking HTTP/1.1 request over a real TCP socket to 127.0.0.1 with `Connection: close`,
/// for the tests of meterd's /metrics endpoint and HTTP listener; a chunked body is decoded.
enum HTTPRequest {
    static func send(port: Int, _ line: String, headers: [String], body: String = "") throws -> (head: String, body: String) {
        let descriptor = try BlockingSocket.connect(.tcp(port: port), receiveTimeoutSeconds: 10)
        defer { close(descriptor) }
        let head = ["\(line) HTTP/1.1", "Host: 127.0.0.1:\(port)", "Connection: close", "Content-Length: \(body.utf8.count)"] + headers
        let request = Array((head.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
        guard write(descriptor, request, request.count) == request.count else { throw RawClientError("write: \(errno)") }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(descriptor, &chunk, chunk.count)
            if count < 0 { throw RawClientError("read: \(errno)") }
            if count == 0 { break }
            response += chunk[0..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw RawClientError("no HTTP head in \(text)") }
        let responseHead = String(text[..<split.lowerBound])
        var responseBody = String(text[split.upperBound...])
        if responseHead.lowercased().contains("transfer-encoding: chunked") { responseBody = dechunk(responseBody) }
        return (responseHead, responseBody)
    }

    private static func dechunk(_ text: String) -> String {
        var rest = Substring(text)
        var body = ""
        while let lineEnd = rest.range(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound], radix: 16), size > 0 {
            let start = lineEnd.upperBound
            let end = rest.utf8.index(start, offsetBy: size)
            body += String(rest[start..<end])
            rest = rest[end...].dropFirst(2)
        }
        return body
    }
}
