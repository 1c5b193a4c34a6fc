import MeterProto
import MeterWire
@testable import MeterWireServer
import NIOCore
import XCTest

extension ConnectionHarness {
    /// The bytes of `frames`, encoded back to back.
    static func encoded(_ frames: WireFrame...) -> [UInt8] {
        var buffer = ByteBuffer()
        for frame in frames { FrameEncoder.write(frame, to: &buffer) }
        return Array(buffer.readableBytesView)
    }

    /// Sends `bytes` and returns the GOAWAY's reason; fails the test unless the GOAWAY is the
    /// only frame written and the connection is closed after it.
    func goAwayReason(after bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try send(bytes)
        return try onlyGoAway(file: file, line: line).reason
    }

    /// The GOAWAY that must be the only frame written since the last look, with the connection closed.
    func onlyGoAway(file: StaticString = #filePath, line: UInt = #line) throws -> Meterd_V1_GoAway {
        let frames = try writtenFrames()
        XCTAssertEqual(frames.map(\.type), [.goAway], file: file, line: line)
        XCTAssertTrue(isClosed, "the connection stayed open", file: file, line: line)
        guard let last = frames.last, last.type == .goAway else { return Meterd_V1_GoAway() }
        return try goAway(last)
    }

    /// A ServerInfo request whose (harness) reply carries `replyBytes` bytes.
    func serverInfo(streamId: UInt32, replyBytes: UInt32) -> WireFrame {
        var size = ByteBuffer()
        size.writeInteger(replyBytes)
        return request(.serverInfo, streamId: streamId, payload: Array(size.readableBytesView))
    }
}
