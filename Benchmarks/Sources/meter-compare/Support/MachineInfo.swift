import Foundation

/// What the report says about the machine: cores, memory, CPU, kernel, and the disk under the
/// work directory (every system's files live there).
enum MachineInfo {
    static func describe(workDirectory: String) -> BenchResults.Machine {
        let cpuInfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuInfo.split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown"
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return BenchResults.Machine(
            cores: ProcessInfo.processInfo.activeProcessorCount, memoryBytes: Int(ProcessInfo.processInfo.physicalMemory),
            cpuModel: model, kernel: "Linux " + release, disk: disk(of: workDirectory))
    }

    /// "ext4 on /dev/vda (mounted at /)" for the mount holding `path`.
    static func disk(of path: String) -> String {
        let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
        var best: (point: String, text: String) = ("", "unknown")
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3 else { continue }
            let point = String(fields[1])
            if (path == point || path.hasPrefix(point == "/" ? "/" : point + "/")) && point.count > best.point.count {
                best = (point, "\(fields[2]) on \(fields[0]) (mounted at \(point))")
            }
        }
        return best.text
    }
}
