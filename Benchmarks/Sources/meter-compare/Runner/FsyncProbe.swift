import Foundation

/// This machine's fdatasync limit for the way meterd writes its log: 4 KiB writes one after
/// another into a file that was zero-filled and fsynced first (a preallocated segment), each
/// followed by fdatasync, for a fixed time. meterd's group commits per second are reported as
/// a fraction of this figure, measured in the same run on the same filesystem.
enum FsyncProbe {
    static func run(directory: String, seconds: Double) throws -> BenchResults.FsyncProbeRun {
        let path = directory + "/fsync-probe-\(getpid()).bin"
        let fileBytes = 64 << 20
        let descriptor = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw BenchError("fsync probe: cannot create \(path): errno \(errno)") }
        defer {
            close(descriptor)
            unlink(path)
        }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for offset in stride(from: 0, to: fileBytes, by: zeros.count) {
            guard pwrite(descriptor, zeros, zeros.count, off_t(offset)) == zeros.count else { throw BenchError("fsync probe: write failed: errno \(errno)") }
        }
        guard fsync(descriptor) == 0 else { throw BenchError("fsync probe: fsync failed: errno \(errno)") }

        let block = [UInt8](repeating: 0xA5, count: 4096)
        var durations: [Double] = []
        var offset = 0
        let began = monotonicSeconds()
        while monotonicSeconds() - began < seconds && offset + block.count <= fileBytes {
            let start = monotonicSeconds()
            guard pwrite(descriptor, block, block.count, off_t(offset)) == block.count, fdatasync(descriptor) == 0 else {
                throw BenchError("fsync probe: write or fdatasync failed: errno \(errno)")
            }
            durations.append((monotonicSeconds() - start) * 1e6)
            offset += block.count
        }
        let elapsed = monotonicSeconds() - began
        durations.sort()
        func percentile(_ p: Double) -> Double { durations[Swift.min(durations.count - 1, Int(Double(durations.count) * p))] }
        return BenchResults.FsyncProbeRun(
            syncs: durations.count, seconds: elapsed, syncsPerSecond: Double(durations.count) / elapsed,
            p50Microseconds: percentile(0.5), p99Microseconds: percentile(0.99), maxMicroseconds: durations.last ?? 0)
    }
}
