/// A string as a JSON string literal: quotes, backslashes and control characters escaped
/// (`\n`, `\r`, `\t`, else `\u00XX`), everything else as it is. The one escaper behind the JSON
/// log lines, the sidecar's dead-letter file and meterctl's `--json` output.
public enum JSONStringLiteral {
    /// `text` in quotes, escaped.
    public static func quoted(_ text: String) -> String {
        var result = ""
        append(text, to: &result)
        return result
    }

    /// Appends `text` in quotes, escaped, to `output`.
    public static func append(_ text: String, to output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}
