import Foundation
import Logging
import MeterCore

/// How meterd and meter-sidecar write their log lines: `text` for people (one line each, time,
/// level, message, then `key=value` metadata) or `json` for log shippers (one JSON object per
/// line with `timestamp`, `level`, `label` and `message`, and the metadata as further keys).
public enum LogFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    case text
    case json

    public var description: String { rawValue }
}

/// A swift-log handler that writes each line to standard error with one write(2), in either
/// `LogFormat`.
///
/// Standard error, not standard output: standard output carries the few start-up lines that
/// scripts and tests read (`meterd: listening on ...`), which stay plain text whatever the log
/// format. One write per line keeps lines whole when several threads log at once.
public struct ProcessLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let format: LogFormat

    public init(label: String, level: Logger.Level, format: LogFormat) {
        self.label = label
        self.logLevel = level
        self.format = format
    }

    /// Makes every `Logger` of the process use this handler (call once, at start).
    public static func bootstrap(level: Logger.Level, format: LogFormat) {
        LoggingSystem.bootstrap { label in ProcessLogHandler(label: label, level: level, format: format) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        if let error = event.error { merged["error"] = "\(error)" }
        let line: String
        switch format {
        case .text: line = Self.textLine(time: Self.timestamp(), level: event.level, label: label, message: "\(event.message)", metadata: merged)
        case .json: line = Self.jsonLine(time: Self.timestamp(), level: event.level, label: label, message: "\(event.message)", metadata: merged)
        }
        var bytes = Array(line.utf8)
        bytes.append(10)
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(2, raw.baseAddress! + offset, raw.count - offset)
                if written <= 0 { if written < 0 && errno == EINTR { continue } else { return } }
                offset += written
            }
        }
    }

    /// `2026-05-01T10:00:00.123Z info meterd: snapshot written bytes=4096 sequence=50000`
    static func textLine(time: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var line = "\(time) \(level) \(label): \(message)"
        for key in metadata.keys.sorted() {
            let value = "\(metadata[key]!)"
            let quoted = value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" })
            line += " \(key)=" + (quoted ? JSONStringLiteral.quoted(value) : value)
        }
        return line
    }

    /// `{"timestamp":"...","level":"info","label":"meterd","message":"snapshot written","bytes":"4096"}`.
    /// Metadata keys that collide with the four fixed ones are prefixed `metadata_`.
    static func jsonLine(time: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var line = "{\"timestamp\":\"\(time)\",\"level\":\"\(level)\",\"label\":\(JSONStringLiteral.quoted(label)),\"message\":\(JSONStringLiteral.quoted(message))"
        for key in metadata.keys.sorted() {
            let name = ["timestamp", "level", "label", "message"].contains(key) ? "metadata_" + key : key
            line += ",\(JSONStringLiteral.quoted(name)):\(jsonValue(metadata[key]!))"
        }
        return line + "}"
    }

    private static func jsonValue(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): return JSONStringLiteral.quoted(text)
        case .stringConvertible(let convertible): return JSONStringLiteral.quoted(convertible.description)
        case .array(let values): return "[" + values.map(jsonValue).joined(separator: ",") + "]"
        case .dictionary(let dictionary):
            return "{" + dictionary.keys.sorted().map { "\(JSONStringLiteral.quoted($0)):\(jsonValue(dictionary[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    /// UTC, RFC 3339 with milliseconds.
    static func timestamp() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        var seconds = time_t(time.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let milliseconds = Int(time.tv_nsec) / 1_000_000
        let millisecondsText = milliseconds < 10 ? "00\(milliseconds)" : milliseconds < 100 ? "0\(milliseconds)" : "\(milliseconds)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(millisecondsText)Z"
    }
}
