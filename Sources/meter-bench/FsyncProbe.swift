import Glibc

/// Measures the machine's limit on durable group commits: `fdatasync` after each 4 KiB write,
/// appended to a growing file versus overwriting a file whose blocks were allocated ahead.
///
/// The log preallocates segments (docs/log-format.md, "Preallocated segments") because of the
/// gap this shows: an append that grows the file changes its size and block map, so every
/// `fdatasync` also commits the file system's metadata journal; an overwrite of allocated
/// blocks writes only data. Three ways of preparing are timed, because they differ on ext4:
/// zero-filling (write zeros, fsync: every block allocated and written), `posix_fallocate`
/// (blocks reserved as *unwritten* extents: the first write into each still converts an extent,
/// which is metadata), and growing by appends. The report then states meterd's group commits
/// per second as a fraction of the overwrite rate.
enum FsyncProbe {
    /// How the probe file is prepared before the timed writes.
    enum Preparation: String, CaseIterable {
        case append = "append to a growing file"
        case zeroFilled = "overwrite a zero-filled file"
        case fallocated = "overwrite a posix_fallocate'd file"
    }

    /// One preparation's figures.
    struct Result {
        var preparation: Preparation
        var preparationMilliseconds: Double
        var latenciesMilliseconds: [Double]
        var elapsedSeconds: Double

        var syncsPerSecond: Double { Double(latenciesMilliseconds.count) / elapsedSeconds }

        func percentile(_ fraction: Double) -> Double {
            let sorted = latenciesMilliseconds.sorted()
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
        }
    }

    static let writeByteCount = 4096

    /// Runs every preparation `rounds` times with `syncCount` synced writes each, in `directory`.
    static func run(directory: String, syncCount: Int, rounds: Int) throws {
        mkdir(directory, 0o700)
        print("fsync probe: \(syncCount) x \(writeByteCount)-byte pwrite + fdatasync per run, \(rounds) round(s), in \(directory)")
        print("preparation                                 prepare ms      p50 ms   p99 ms   max ms   syncs/s")
        for round in 0..<rounds {
            for preparation in Preparation.allCases {
                let result = try measure(preparation, directory: directory, syncCount: syncCount, round: round)
                print(pad(preparation.rawValue, 42)
                      + pad(format(result.preparationMilliseconds), 12, right: true)
                      + pad(format(result.percentile(0.50)), 12, right: true)
                      + pad(format(result.percentile(0.99)), 9, right: true)
                      + pad(format(result.latenciesMilliseconds.max() ?? 0), 9, right: true)
                      + pad(String(Int(result.syncsPerSecond)), 10, right: true))
            }
        }
    }

    private static func measure(_ preparation: Preparation, directory: String, syncCount: Int, round: Int) throws -> Result {
        let path = "\(directory)/fsync-probe-\(round).dat"
        unlink(path)
        let descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw ProbeError("open \(path): errno \(errno)") }
        defer {
            close(descriptor)
            unlink(path)
        }
        let totalByteCount = syncCount * writeByteCount
        let preparationStart = now()
        switch preparation {
        case .append:
            break
        case .zeroFilled:
            let zeros = [UInt8](repeating: 0, count: 1 << 20)
            var offset = 0
            while offset < totalByteCount {
                let count = min(zeros.count, totalByteCount - offset)
                guard pwrite(descriptor, zeros, count, off_t(offset)) == count else { throw ProbeError("pwrite zeros: errno \(errno)") }
                offset += count
            }
        case .fallocated:
            let status = posix_fallocate(descriptor, 0, off_t(totalByteCount))
            guard status == 0 else { throw ProbeError("posix_fallocate: error \(status)") }
        }
        guard fsync(descriptor) == 0 else { throw ProbeError("fsync: errno \(errno)") }
        let preparationMilliseconds = (now() - preparationStart) * 1000

        var block = [UInt8](repeating: 0, count: writeByteCount)
        var latencies: [Double] = []
        latencies.reserveCapacity(syncCount)
        let start = now()
        for index in 0..<syncCount {
            block[index % writeByteCount] &+= 1
            let before = now()
            guard pwrite(descriptor, block, writeByteCount, off_t(index * writeByteCount)) == writeByteCount else {
                throw ProbeError("pwrite: errno \(errno)")
            }
            guard fdatasync(descriptor) == 0 else { throw ProbeError("fdatasync: errno \(errno)") }
            latencies.append((now() - before) * 1000)
        }
        return Result(preparation: preparation, preparationMilliseconds: preparationMilliseconds,
                      latenciesMilliseconds: latencies, elapsedSeconds: now() - start)
    }

    private static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    private static func format(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = String(hundredths % 100)
        return "\(hundredths / 100)." + (fraction.count == 1 ? "0" + fraction : fraction)
    }

    private static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return right ? padding + text : text + padding
    }
}

/// A failed system call in the fsync probe.
struct ProbeError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
