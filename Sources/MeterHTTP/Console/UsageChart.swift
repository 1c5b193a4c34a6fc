import MeterCore

/// Usage over time as an SVG bar chart, drawn on the server. Bar heights come from the exact
/// decimals by integer arithmetic on their units; no floating point is involved.
enum UsageChart {
    static let width = 960
    static let height = 260
    static let marginLeft = 70
    static let marginBottom = 30
    static let marginTop = 12

    /// `points`: window start (ms) and value, oldest first.
    static func svg(points: [(start: Int64, value: ExactDecimal)], label: (Int64) -> String) -> String {
        let plotWidth = width - marginLeft - 10
        let plotHeight = height - marginBottom - marginTop
        let maximum = points.map(\.value.units).max() ?? 0
        let scale: Int128 = Swift.max(maximum, 1)
        var svg = "<svg id=\"usage-chart\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"Usage over time\" xmlns=\"http://www.w3.org/2000/svg\">"
        svg += "<line x1=\"\(marginLeft)\" y1=\"\(marginTop + plotHeight)\" x2=\"\(width - 10)\" y2=\"\(marginTop + plotHeight)\" stroke=\"#9aa3b2\"/>"
        svg += "<text x=\"\(marginLeft - 6)\" y=\"\(marginTop + 10)\" text-anchor=\"end\" font-size=\"12\" fill=\"#4a5263\">\(HTML.escape(ExactDecimal(units: maximum).description))</text>"
        svg += "<text x=\"\(marginLeft - 6)\" y=\"\(marginTop + plotHeight)\" text-anchor=\"end\" font-size=\"12\" fill=\"#4a5263\">0</text>"
        guard !points.isEmpty else { return svg + "</svg>" }
        let slot = Swift.max(plotWidth / points.count, 1)
        let barWidth = Swift.max(slot - Swift.max(slot / 5, 1), 1)
        let labelEvery = Swift.max(points.count / 8, 1)
        for (index, point) in points.enumerated() {
            let units = Swift.max(point.value.units, 0)
            let barHeight = Int(units * Int128(plotHeight) / scale)
            let x = marginLeft + index * slot
            let y = marginTop + plotHeight - barHeight
            svg += "<rect class=\"bar\" x=\"\(x)\" y=\"\(y)\" width=\"\(barWidth)\" height=\"\(barHeight)\" fill=\"#2454d6\" data-value=\"\(HTML.escape(point.value.description))\"><title>\(HTML.escape(label(point.start))): \(HTML.escape(point.value.description))</title></rect>"
            if index % labelEvery == 0 {
                svg += "<text x=\"\(x)\" y=\"\(height - 10)\" font-size=\"11\" fill=\"#4a5263\">\(HTML.escape(label(point.start)))</text>"
            }
        }
        return svg + "</svg>"
    }
}
