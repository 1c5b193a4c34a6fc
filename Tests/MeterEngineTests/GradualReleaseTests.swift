@testable import MeterEngine
import XCTest

final class GradualReleaseTests: XCTestCase {
    /// The whole pages inside the buffer go back to the kernel (they read as zeros after), the
    /// bytes before the first whole page are untouched, and the array is still freed normally.
    func testReleasedPagesReadAsZerosAndTheArrayStaysValid() {
        var bytes = [UInt8](repeating: 7, count: 64 << 20)
        GradualRelease.releasePages(of: &bytes, step: 1 << 20)
        XCTAssertEqual(bytes[bytes.count / 2], 0, "a page in the middle was not released")
        XCTAssertEqual(bytes.count, 64 << 20)
        let firstWholePage = bytes.withUnsafeBytes { buffer in
            let address = Int(bitPattern: buffer.baseAddress!)
            return (address + 4095) / 4096 * 4096 - address
        }
        XCTAssertTrue(bytes[..<firstWholePage].allSatisfy { $0 == 7 }, "bytes outside whole pages changed")
        bytes = []
        XCTAssertTrue(bytes.isEmpty)
    }

    /// Small buffers are left alone (a few pages are not worth the calls).
    func testSmallBuffersAreLeftAsTheyAre() {
        var bytes = [UInt8](repeating: 7, count: 1 << 20)
        GradualRelease.releasePages(of: &bytes)
        XCTAssertTrue(bytes.allSatisfy { $0 == 7 })
    }
}
