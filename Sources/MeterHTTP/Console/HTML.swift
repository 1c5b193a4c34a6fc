import Hummingbird
import NIOCore

/// Server-side HTML building: every piece of text from a user or the engine goes through
/// `escape`, and pages share one layout that works at desktop and phone widths.
enum HTML {
    static func escape(_ text: String) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": output.append("&amp;")
            case "<": output.append("&lt;")
            case ">": output.append("&gt;")
            case "\"": output.append("&quot;")
            case "'": output.append("&#39;")
            default: output.append(character)
            }
        }
        return output
    }

    static func page(title: String, signedInAs: String?, body: String, status: HTTPResponse.Status = .ok) -> Response {
        let navigation = signedInAs.map { name in
            """
            <nav><a href="/console">Meters</a><a href="/console/meters/new">Add Meter</a><a href="/console/events">Event debugger</a><a href="/console/access">Keys &amp; audit</a>
            <form method="post" action="/console/sign-out" class="inline"><span class="who">\(escape(name))</span><button type="submit" class="link">Sign out</button></form></nav>
            """
        } ?? ""
        let text = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title)) · meterd</title><style>\(style)</style></head>
            <body><header><a class="brand" href="/console">meterd</a>\(navigation)</header>
            <main>\(body)</main></body></html>
            """
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(_ location: String, cookie: String? = nil) -> Response {
        var headers: HTTPFields = [.location: location]
        if let cookie { headers[.setCookie] = cookie }
        return Response(status: .seeOther, headers: headers)
    }

    static let style = """
        *{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2330;background:#f6f7f9}
        header{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.25rem;padding:.75rem 1.25rem;background:#1d2330;color:#fff}
        header a{color:#fff;text-decoration:none}.brand{font-weight:700;font-size:1.1rem}
        nav{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1rem;flex:1}nav form{margin-left:auto}
        .who{opacity:.75;margin-right:.5rem}button.link{background:none;border:0;color:#fff;text-decoration:underline;cursor:pointer;padding:0;font:inherit}
        main{max-width:1100px;margin:0 auto;padding:1.25rem}h1{font-size:1.5rem;margin:.25rem 0 1rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
        .card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:1rem 1.25rem;margin-bottom:1rem}
        table{width:100%;border-collapse:collapse;background:#fff}th,td{text-align:left;padding:.5rem .6rem;border-bottom:1px solid #e6e9ee;vertical-align:top}
        th{font-weight:600;color:#4a5263;font-size:.85rem}.scroll{overflow-x:auto}
        .status{display:inline-block;padding:.1rem .5rem;border-radius:999px;font-size:.8rem;font-weight:600}
        .status.active{background:#dff5e3;color:#17612a}.status.archived{background:#eceef1;color:#555}.status.backfilling{background:#fff3d6;color:#7a5400}
        .status.rejected{background:#fde2e1;color:#9b1c17}.status.duplicate{background:#eceef1;color:#555}.status.filtered{background:#fff3d6;color:#7a5400}
        label{display:block;font-weight:600;margin:.75rem 0 .2rem}.help{color:#5b6475;font-size:.88rem;margin:.15rem 0 .35rem}
        .help ul{margin:.2rem 0;padding-left:1.2rem}input[type=text],input[type=password],select{width:100%;max-width:28rem;padding:.45rem .55rem;border:1px solid #b9c0cc;border-radius:6px;font:inherit}
        .field-error{color:#b3261e;font-weight:600;margin:.25rem 0}.invalid input,.invalid select{border-color:#b3261e}
        .filter-row{display:flex;flex-wrap:wrap;gap:.5rem;margin:.35rem 0}.filter-row input{flex:1 1 12rem;max-width:none}
        .choices label{display:inline-flex;gap:.35rem;font-weight:400;margin-right:1.25rem}
        .button,button.primary{display:inline-block;background:#2454d6;color:#fff;border:0;border-radius:6px;padding:.55rem 1.1rem;font:inherit;font-weight:600;cursor:pointer;text-decoration:none}
        button.secondary{background:#eceef1;border:0;border-radius:6px;padding:.4rem .8rem;font:inherit;cursor:pointer}
        .notice{background:#dff5e3;border:1px solid #b5e2bf;padding:.6rem .9rem;border-radius:6px;margin-bottom:1rem}
        .toolbar{display:flex;flex-wrap:wrap;gap:.75rem;align-items:center;justify-content:space-between;margin-bottom:1rem}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0}dt{color:#5b6475}dd{margin:0}
        svg{max-width:100%;height:auto;background:#fff}.inline{display:inline}code{font-size:.9em}
        @media (max-width:600px){main{padding:.75rem}header{padding:.6rem .75rem}nav form{margin-left:0}th,td{padding:.4rem}dl{grid-template-columns:1fr}.hide-narrow{display:none}}
        """
}
