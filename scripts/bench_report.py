"""Turns one meter-compare results file into a markdown report and PNG charts.

    python bench_report.py RESULTS.json OUTPUT.md CHART_DIR

Run it through scripts/bench-report, which provides matplotlib in a venv. The JSON is the
Swift struct `BenchResults` (Benchmarks/Sources/meter-compare/Runner/BenchResults.swift): JSON
keys are the Swift property names, durations are in seconds and latencies in microseconds.

The report has one function per section and one per chart. Any part of the results may be
empty (quick mode skips some workloads): its section then says "not measured in this run" and
its chart is neither drawn nor linked. The markdown links the charts by paths relative to the
directory of OUTPUT.md.
"""

import datetime
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

NOT_MEASURED = "Not measured in this run."

# The baseline the targets name, by key.
REDIS_ALWAYS = "redis-always"
METERD_UNIX = "meterd-unix"

# Colours per system: light/dark pairs per family, the same in every chart.
SYSTEM_COLOURS = {
    "meterd-unix": "#1f4e99",
    "meterd-tcp": "#7fa7e0",
    "postgres-insert": "#2a7a3b",
    "postgres-copy": "#8cc98f",
    "redis-always": "#b3261e",
    "redis-everysec": "#f2a09a",
}
FALLBACK_COLOURS = ["#8e44ad", "#e67e22", "#16a085", "#7f8c8d", "#c0a000", "#d35400"]

FIGURE_SIZE = (9, 5)  # inches; at 100 dpi about 900 x 500 pixels
DPI = 100


# ---------------------------------------------------------------------------------------------
# Reading the results


def load_results(path):
    """The results as a dict, with the optional parts present (empty) when missing."""
    with open(path, encoding="utf-8") as f:
        results = json.load(f)
    defaults = {
        "ingest": [], "latency": [], "queryEvents": 0, "loadSeconds": {}, "query": [],
        "growth": [], "restart": [], "correctness": [], "snapshotPause": [], "groupCommits": [], "correct": True, "systems": [],
        "versions": {}, "machine": {}, "settings": {}, "mode": "full", "startedAt": "",
        "durationSeconds": 0.0,
    }
    for key, value in defaults.items():
        if results.get(key) is None:
            results[key] = value
    return results


def system_keys(results):
    """Every system key, in the order of `systems`, then any others that appear in the data."""
    keys = [s["key"] for s in results["systems"]]
    for part in ("ingest", "latency", "query"):
        for run in results[part]:
            if run["system"] not in keys:
                keys.append(run["system"])
    for key in results["loadSeconds"]:
        if key not in keys:
            keys.append(key)
    return keys


def system_label(results, key):
    for s in results["systems"]:
        if s["key"] == key:
            return s.get("label") or key
    return key


def system_colour(results, key):
    if key in SYSTEM_COLOURS:
        return SYSTEM_COLOURS[key]
    others = [k for k in system_keys(results) if k not in SYSTEM_COLOURS]
    return FALLBACK_COLOURS[others.index(key) % len(FALLBACK_COLOURS)]


def baseline_keys(results):
    """The systems meterd is compared against: everything that is not meterd."""
    return [k for k in system_keys(results) if not k.startswith("meterd")]


def ingest_by_point(results):
    """{(system, batchSize, connections): IngestRun}."""
    return {(r["system"], r["batchSize"], r["connections"]): r for r in results["ingest"]}


def ingest_points(results):
    """Every (batchSize, connections) measured, sorted."""
    return sorted({(r["batchSize"], r["connections"]) for r in results["ingest"]})


def median_rate(points, key, batch, connections):
    """Median events/s of one system at one point, or None when not measured."""
    run = points.get((key, batch, connections))
    if run is None:
        return None
    return run["medianEventsPerSecond"]


def ratio(numerator, denominator):
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def kept_up(run):
    """False when a latency run achieved clearly less than its offered rate."""
    return run["achievedPerSecond"] >= 0.97 * run["offeredPerSecond"]


# ---------------------------------------------------------------------------------------------
# Formatting numbers


def sig(x, digits=3):
    """`x` rounded to `digits` significant figures, with thousands separators."""
    if x is None:
        return "—"
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    decimals = digits - 1 - math.floor(math.log10(abs(x)))
    return f"{round(x, decimals):,.{max(decimals, 0)}f}"


def fmt_rate(x):
    """Events or requests per second: 3 significant figures, thousands separators."""
    return sig(x)


def fmt_int(n):
    return f"{n:,}"


def fmt_ratio(r):
    if r is None:
        return "—"
    if r < 0.95:
        return f"{sig(r, 2)}×"
    return f"{r:,.1f}×"


def fmt_micros(us):
    """A latency given in microseconds, in µs, ms or s, whichever reads best."""
    if us is None:
        return "—"
    if us < 1000:
        return f"{sig(us)} µs"
    if us < 1_000_000:
        return f"{sig(us / 1000)} ms"
    return f"{sig(us / 1_000_000)} s"


def fmt_seconds(s):
    if s < 60:
        return f"{sig(s)} s"
    minutes, seconds = divmod(round(s), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def fmt_mib(n_bytes):
    return sig(n_bytes / 2**20)


def fmt_when(iso):
    """ISO 8601 UTC as '2026-11-27 09:14 UTC' (the raw text if it does not parse)."""
    try:
        when = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso or "unknown date"
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def cell(text):
    """Text made safe for a markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(headers, rows, numeric=()):
    """A markdown table; columns whose index is in `numeric` are right-aligned."""
    align = ["---:" if i in numeric else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "| " + " | ".join(align) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    return lines


def human_axis(value, _pos=None):
    """Axis ticks for counts and rates: 500, 10k, 1.5M."""
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    if value >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def micros_axis(value, _pos=None):
    """Axis ticks for latencies given in microseconds."""
    if value >= 1e6:
        return f"{value / 1e6:g} s"
    if value >= 1e3:
        return f"{value / 1e3:g} ms"
    return f"{value:g} µs"


# ---------------------------------------------------------------------------------------------
# Markdown sections (each returns a list of lines)


def section_title(results, results_path):
    mode = results["mode"]
    command = "scripts/bench --quick" if mode == "quick" else "scripts/bench"
    source = results_path.replace("--", "-")  # "--" may not appear inside an HTML comment
    lines = [
        f"<!-- generated by scripts/bench from {source} (scripts/bench-report); do not edit by hand -->",
        "",
        "# meterd benchmarks: meterd against PostgreSQL and Redis",
        "",
    ]
    lines += correctness_alert(results)
    lines += [
        f"- Date: {fmt_when(results['startedAt'])} (start of the run)",
        f"- Mode: {mode}",
        f"- Produced by: `{command}`",
        f"- Total duration: {fmt_seconds(results['durationSeconds'])}",
        "",
        "Every system ran on the same machine in this one run; compare the figures on this page "
        "with each other, not with other runs or other machines.",
        "",
    ]
    return lines


def failed_checks(results):
    return [c for c in results["correctness"] if not c.get("ok", False)]


def correctness_alert(results):
    failed = failed_checks(results)
    if results["correct"] and not failed:
        return []
    total = len(results["correctness"])
    return [
        f"> **⚠️ CORRECTNESS FAILED: {len(failed)} of {total} checks did not give the expected "
        "answer. Figures of a system that answers wrongly are not comparable; see "
        "[Correctness](#correctness).**",
        "",
    ]


def section_machine(results):
    machine = results["machine"]
    settings = results["settings"]
    lines = ["## Machine and systems", ""]
    memory = machine.get("memoryBytes")
    lines += table(["", ""], [
        ["Cores", machine.get("cores", "unknown")],
        ["Memory", f"{memory / 2**30:.1f} GiB" if memory else "unknown"],
        ["CPU", machine.get("cpuModel", "unknown")],
        ["Kernel", machine.get("kernel", "unknown")],
        ["Disk (work directory)", machine.get("disk", "unknown")],
    ])
    lines += [""]
    if settings:
        lines += [
            f"Work directory `{settings.get('workDirectory', '?')}`, seed {settings.get('seed', '?')}, "
            f"{fmt_int(settings.get('customers', 0))} customers, "
            f"{settings.get('runsPerPoint', '?')} runs per ingest point.",
            "",
        ]

    lines += ["### Versions", ""]
    if results["versions"]:
        lines += table(["Component", "Version"], list(results["versions"].items()))
    else:
        lines += ["No versions recorded."]
    lines += [""]

    lines += ["### Systems and their durability", ""]
    if results["systems"]:
        rows = [[s.get("label", s["key"]), f"`{s['key']}`", s.get("durability", ""),
                 f"`{s.get('settings', '')}`"] for s in results["systems"]]
        lines += table(["System", "Key", "Durability when a batch is acknowledged", "Settings"], rows)
    else:
        lines += ["No systems recorded."]
    lines += [""]

    notes = settings.get("notes") or []
    if notes:
        lines += ["### Notes on the settings", ""]
        lines += [f"- {note}" for note in notes]
        lines += [""]
    return lines


def target_ratio_line(results, points, description, goal, baselines):
    """One target 'meterd-unix >= goal x the best of baselines' over every batched point."""
    ratios = []
    for batch, connections in ingest_points(results):
        if batch <= 1:
            continue
        ours = median_rate(points, METERD_UNIX, batch, connections)
        theirs = [median_rate(points, b, batch, connections) for b in baselines]
        theirs = [t for t in theirs if t]
        r = ratio(ours, max(theirs)) if theirs else None
        if r is not None:
            ratios.append((r, batch, connections))
    if not ratios:
        return f"- {description}: not measured in this run."
    worst, batch, connections = min(ratios)
    best = max(ratios)[0]
    where = f"batch {fmt_int(batch)} with {connections} connection{'s' if connections != 1 else ''}"
    if len(ratios) == 1:
        detail = f"the only batched point measured, {where}"
    else:
        detail = f"lowest at {where}; {len(ratios)} batched points, {fmt_ratio(worst)} to {fmt_ratio(best)}"
    missing = [system_label(results, b) for b in baselines if not any(r["system"] == b for r in results["ingest"])]
    if missing:
        detail += f"; {', '.join(missing)} not measured"
    verdict = f"**met** ({fmt_ratio(worst)})" if worst >= goal else f"**not met ({fmt_ratio(worst)})**"
    return f"- {description}: {verdict} — {detail}."


def target_million_line(points, batch_connections):
    """The target of 1,000,000 durable events/s in batches of 1000 over the Unix socket."""
    rates = [(median_rate(points, METERD_UNIX, 1000, c), c) for c in batch_connections]
    rates = [(r, c) for r, c in rates if r is not None]
    description = "meterd ≥ 1,000,000 durable events/s in batches of 1000 over the Unix socket (best connections setting)"
    if not rates:
        return f"- {description}: not measured in this run."
    best, connections = max(rates)
    detail = f"{fmt_rate(best)} events/s with {connections} connection{'s' if connections != 1 else ''}"
    if best >= 1_000_000:
        return f"- {description}: **met** ({detail})."
    return f"- {description}: **not met ({fmt_ratio(best / 1_000_000)})** — {detail}."


def section_headline(results):
    lines = ["## Headline", ""]
    points = ingest_by_point(results)
    baselines = baseline_keys(results)
    postgres = [b for b in baselines if b.startswith("postgres")]
    rows = []
    for batch in (1000, 100):
        for connections in sorted({c for b, c in ingest_points(results) if b == batch}, reverse=True):
            ours = median_rate(points, METERD_UNIX, batch, connections)
            if ours is None:
                continue
            rows.append([fmt_int(batch), connections, fmt_rate(ours)] +
                        [fmt_ratio(ratio(ours, median_rate(points, b, batch, connections))) for b in baselines])
    if not rows:
        lines += [f"Batched ingest of meterd over the Unix socket: {NOT_MEASURED.lower()}", ""]
    else:
        lines += [
            "Durable ingest: median events/s of meterd over the Unix socket, and that rate as a "
            "multiple of each other system's (meterd ÷ system at the same batch size and "
            "connections in this run; above 1× means meterd is faster).",
            "",
        ]
        headers = ["Batch", "Connections", f"{system_label(results, METERD_UNIX)} events/s"]
        headers += [f"× {system_label(results, b)}" for b in baselines]
        lines += table(headers, rows, numeric=set(range(len(headers))))
        lines += [""]

    connections_1000 = sorted({c for b, c in ingest_points(results) if b == 1000})
    lines += [
        "Targets of the issue, computed from this run's medians (the ratio targets must hold at "
        "every batched point, batch sizes above 1, so the lowest ratio is shown):",
        "",
        target_ratio_line(results, points,
                          "meterd ≥ 10× PostgreSQL (the better of INSERT and COPY) in batched durable ingest",
                          10, postgres),
        target_ratio_line(results, points,
                          "meterd ≥ 2× Redis with appendfsync always in batched durable ingest",
                          2, [REDIS_ALWAYS]),
        target_million_line(points, connections_1000),
        "",
    ]
    return lines


def section_ingest(results, chart):
    lines = ["## Durable ingest", ""]
    if not results["ingest"]:
        return lines + [NOT_MEASURED, ""]
    run_counts = sorted({len(r.get("eventsPerSecond") or []) for r in results["ingest"]})
    if run_counts == [1]:
        runs_text = "Each cell is a single run (no spread measured)."
    else:
        counts = " or ".join(str(n) for n in run_counts)
        runs_text = (f"Each cell is the median of {counts} runs, with the lowest and highest run in "
                     "brackets; the runs of all systems were interleaved.")
    lines += [
        "Events per second acknowledged durably, by batch size (events per request) and "
        "connections (concurrent clients). " + runs_text,
        "",
    ]
    points = ingest_by_point(results)
    keys = [k for k in system_keys(results) if any(r["system"] == k for r in results["ingest"])]
    rows = []
    for batch, connections in ingest_points(results):
        row = [fmt_int(batch), connections]
        for key in keys:
            run = points.get((key, batch, connections))
            if run is None:
                row.append("—")
                continue
            text = fmt_rate(run["medianEventsPerSecond"])
            runs = run.get("eventsPerSecond") or []
            if len(runs) > 1:
                text += f" ({fmt_rate(min(runs))}–{fmt_rate(max(runs))})"
            row.append(text)
        rows.append(row)
    headers = ["Batch", "Connections"] + [system_label(results, k) for k in keys]
    lines += table(headers, rows, numeric=set(range(len(headers))))
    lines += [""]

    baselines = [b for b in baseline_keys(results) if b in keys]
    if METERD_UNIX in keys and baselines:
        lines += [f"{system_label(results, METERD_UNIX)} ÷ each other system (medians):", ""]
        rows = []
        for batch, connections in ingest_points(results):
            ours = median_rate(points, METERD_UNIX, batch, connections)
            rows.append([fmt_int(batch), connections] +
                        [fmt_ratio(ratio(ours, median_rate(points, b, batch, connections))) for b in baselines])
        headers = ["Batch", "Connections"] + [f"× {system_label(results, b)}" for b in baselines]
        lines += table(headers, rows, numeric=set(range(len(headers))))
        lines += [""]
    lines += chart_link(chart, "Durable ingest throughput by batch size")
    return lines


def section_latency(results, chart):
    lines = ["## Latency at a fixed offered rate", ""]
    if not results["latency"]:
        return lines + [NOT_MEASURED, ""]
    lines += [
        "Single-event durable ingest at a fixed offered rate (open loop): each latency is measured "
        "from the moment the event was due to be sent, so a system that falls behind shows its "
        "queueing delay.",
        "",
    ]
    order = system_keys(results)
    runs = sorted(results["latency"],
                  key=lambda r: (r["connections"], order.index(r["system"]), r["offeredPerSecond"]))
    rows = []
    for r in runs:
        achieved = fmt_rate(r["achievedPerSecond"]) + ("" if kept_up(r) else " ⚠")
        rows.append([system_label(results, r["system"]), fmt_rate(r["offeredPerSecond"]), achieved,
                     r["connections"], fmt_int(r["count"]),
                     fmt_micros(r["p50Microseconds"]), fmt_micros(r["p90Microseconds"]),
                     fmt_micros(r["p99Microseconds"]), fmt_micros(r["p999Microseconds"]),
                     fmt_micros(r["maxMicroseconds"])])
    headers = ["System", "Offered/s", "Achieved/s", "Connections", "Events",
               "p50", "p90", "p99", "p99.9", "max"]
    lines += table(headers, rows, numeric=set(range(1, len(headers))))
    lines += [""]
    if not all(kept_up(r) for r in runs):
        lines += ["⚠ achieved rate more than 3% below the offered rate: the system could not keep "
                  "up, and its latencies include the growing queue.", ""]
    charted = min(r["connections"] for r in runs)
    lines += [f"The chart shows the runs with {charted} connections.", ""]
    lines += chart_link(chart, "Ingest latency percentiles by offered rate")
    return lines


def section_group_commits(results):
    lines = ["## meterd: group commits against this machine's fdatasync limit", ""]
    probe = results.get("fsyncProbe")
    runs = results["groupCommits"]
    if not probe and not runs:
        return lines + [NOT_MEASURED, ""]
    limit = probe["syncsPerSecond"] if probe else None
    if probe:
        lines += [
            f"fdatasync probe in this run (4 KiB writes into a zero-filled, fsynced file, as meterd's "
            f"preallocated log segments): {fmt_rate(probe['syncsPerSecond'])} syncs/s over {sig(probe['seconds'])} s, "
            f"p50 {fmt_micros(probe['p50Microseconds'])}, p99 {fmt_micros(probe['p99Microseconds'])}, "
            f"max {fmt_micros(probe['maxMicroseconds'])}.",
            "",
        ]
    if runs:
        lines += ["meterd's group commits during each run (from ServerInfo before and after); each group "
                  "commit is one fdatasync, so commits/s over the probe's syncs/s is how close the write "
                  "path runs to the disk's limit.", ""]
        order = system_keys(results)
        rows = []
        for r in sorted(runs, key=lambda r: order.index(r["system"]) if r["system"] in order else 0):
            share = f"{100 * r['groupCommitsPerSecond'] / limit:.0f}%" if limit else "—"
            rows.append([system_label(results, r["system"]), r["workload"], fmt_int(r["events"]),
                         fmt_int(r["groupCommits"]), fmt_rate(r["groupCommitsPerSecond"]), share,
                         sig(r["eventsPerGroupCommit"])])
        lines += table(["System", "Run", "Events", "Group commits", "Commits/s", "Of probe", "Events/commit"],
                       rows, numeric={2, 3, 4, 5, 6})
    return lines + [""]


def section_snapshot_pause(results):
    lines = ["## meterd: latency while snapshots are written", ""]
    runs = results["snapshotPause"]
    if not runs:
        return lines + [NOT_MEASURED, ""]
    lines += [
        "meterd restarted on the state the other workloads left, set to start a snapshot after "
        "every record, while single events arrive at a fixed rate (open loop). A snapshot that "
        "stopped ingestion would show as a maximum near the time one snapshot takes.",
        "",
    ]
    rows = [[fmt_int(r["eventsInState"]), fmt_rate(r["offeredPerSecond"]), fmt_rate(r["achievedPerSecond"]),
             r["connections"], sig(r["seconds"]), fmt_int(r["snapshotsWritten"]),
             fmt_micros(r["p50Microseconds"]), fmt_micros(r["p99Microseconds"]),
             fmt_micros(r["p999Microseconds"]), fmt_micros(r["maxMicroseconds"])] for r in runs]
    headers = ["Events in state", "Offered/s", "Achieved/s", "Connections", "Seconds",
               "Snapshots written", "p50", "p99", "p99.9", "max"]
    lines += table(headers, rows, numeric=set(range(len(headers))))
    return lines + [""]


def section_query(results, chart):
    lines = ["## Queries", ""]
    if not results["query"] and not results["loadSeconds"]:
        return lines + [NOT_MEASURED, ""]
    events = results["queryEvents"]
    order = system_keys(results)
    if results["loadSeconds"]:
        lines += [f"Every system was loaded with the same {fmt_int(events)} events before the queries:", ""]
        rows = []
        for key in sorted(results["loadSeconds"], key=order.index):
            seconds = results["loadSeconds"][key]
            rows.append([system_label(results, key), fmt_int(events), sig(seconds),
                         fmt_rate(events / seconds) if seconds else "—"])
        lines += table(["System", "Events loaded", "Load seconds", "Events/s"], rows, numeric={1, 2, 3})
        lines += [""]
    if not results["query"]:
        return lines + [f"Query latency: {NOT_MEASURED.lower()}", ""]

    descriptions = {}
    for r in results["query"]:
        descriptions.setdefault(r["query"], r.get("description", ""))
    lines += ["The queries:", ""]
    lines += [f"- `{q}`: {d}" for q, d in descriptions.items()]
    lines += [""]
    queries = list(descriptions)
    runs = sorted(results["query"], key=lambda r: (queries.index(r["query"]), order.index(r["system"])))
    rows = [[f"`{r['query']}`", system_label(results, r["system"]), fmt_int(r["count"]),
             fmt_micros(r["p50Microseconds"]), fmt_micros(r["p99Microseconds"])] for r in runs]
    lines += table(["Query", "System", "Queries run", "p50", "p99"], rows, numeric={2, 3, 4})
    lines += [""]
    lines += chart_link(chart, "Query latency")
    return lines


def section_growth_restart(results, growth_chart, restart_chart):
    lines = ["## meterd: memory with many customers, restart time", ""]
    lines += ["### Growth with active customers", ""]
    growth = sorted(results["growth"], key=lambda g: g["customers"])
    if not growth:
        lines += [NOT_MEASURED, ""]
    else:
        lines += [
            "meterd alone: ingest rate and resident memory with this many customers sending events. "
            "Bytes per customer divides all resident memory by the customers; the last column is "
            "the memory added per customer added since the row above.",
            "",
        ]
        rows = []
        previous = None
        for g in growth:
            per_customer = g["residentBytes"] / g["customers"] if g["customers"] else None
            added = None
            if previous and g["customers"] > previous["customers"]:
                added = (g["residentBytes"] - previous["residentBytes"]) / (g["customers"] - previous["customers"])
            rows.append([fmt_int(g["customers"]), fmt_int(g["events"]), fmt_rate(g["eventsPerSecond"]),
                         fmt_mib(g["residentBytes"]), sig(per_customer), sig(added) if added is not None else "—"])
            previous = g
        lines += table(["Active customers", "Events", "Events/s", "Resident MiB", "Bytes per customer",
                        "Added bytes per added customer"], rows, numeric=set(range(6)))
        lines += [""]
        lines += chart_link(growth_chart, "meterd resident memory and ingest rate by active customers")

    lines += ["### Restart", ""]
    restart = sorted(results["restart"], key=lambda r: (r["events"], not r["withSnapshot"]))
    if not restart:
        lines += [NOT_MEASURED, ""]
    else:
        lines += ["Seconds from starting meterd until it answers Health, with this many events in its log.", ""]
        rows = [[fmt_int(r["events"]), "yes" if r["withSnapshot"] else "no", sig(r["seconds"])] for r in restart]
        lines += table(["Events in the log", "Snapshot", "Seconds"], rows, numeric={0, 2})
        lines += [""]
        lines += chart_link(restart_chart, "meterd restart time")
    return lines


def section_elsewhere():
    """Pointers to the measurements this comparison does not make (meterd alone, meter-bench)."""
    return [
        "## Measured elsewhere",
        "",
        "meterd-only figures that have no PostgreSQL or Redis counterpart are taken with `meter-bench`"
        " (release) and kept in [component-benchmarks.md](component-benchmarks.md): CheckEntitlement"
        " latency under 100,000 events/s of ingest (`meter-bench entitlement`), webhook notifications"
        " delivered per second (`meter-bench webhooks`), the threshold evaluation cost"
        " (`meter-bench thresholds`), and the engine's components. The snapshot pause alone:"
        " `meter-compare snapshot-pause` ([operations.md](operations.md), \"Snapshots and the disk\").",
        "",
    ]


def section_correctness(results):
    lines = ["## Correctness", ""]
    checks = results["correctness"]
    failed = failed_checks(results)
    if not checks:
        lines += ["No correctness checks ran in this run."]
        if not results["correct"]:
            lines += ["", "**The run is marked as not correct.**"]
        return lines + [""]
    systems = sorted({c["system"] for c in checks}, key=system_keys(results).index)
    if not failed and results["correct"]:
        lines += [f"All {fmt_int(len(checks))} checks passed ({len(systems)} systems). "
                  "Each system answered every check with the expected value:", ""]
        names = list(dict.fromkeys(c["check"] for c in checks))
        lines += [f"- {name}" for name in names]
        return lines + [""]
    lines += [f"**{len(failed)} of {fmt_int(len(checks))} checks failed.**", ""]
    if failed:
        rows = [[system_label(results, c["system"]), c["check"], f"`{c['expected']}`", f"`{c['actual']}`"]
                for c in failed]
        lines += table(["System", "Check", "Expected", "Actual"], rows)
    else:
        lines += ["Every check listed passed, but the run is marked as not correct."]
    return lines + [""]


def chart_link(chart, alt):
    """The markdown image for a chart, or nothing when the chart was not drawn."""
    if chart is None:
        return []
    return [f"![{alt}]({chart})", ""]


# ---------------------------------------------------------------------------------------------
# Charts (each returns the PNG's path, or None when there is nothing to draw)


def save(fig, chart_dir, name):
    path = os.path.join(chart_dir, name)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def bottom_legend(fig, axes, columns=3):
    handles, labels = axes.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=columns, frameon=False, fontsize=9)


def wrap_label(text, width=20):
    """A long hyphenated name split into two lines at the hyphen nearest its middle."""
    if len(text) <= width or "-" not in text:
        return text
    hyphens = [i for i, c in enumerate(text) if c == "-"]
    cut = min(hyphens, key=lambda i: abs(i - len(text) / 2))
    return text[:cut + 1] + "\n" + text[cut + 1:]


def log_floor(values):
    """The decade at or below the smallest positive value: where log-scale bars start."""
    positive = [v for v in values if v and v > 0]
    return 10 ** math.floor(math.log10(min(positive))) if positive else 1


def spans_orders(values, factor=20):
    values = [v for v in values if v and v > 0]
    return bool(values) and max(values) / min(values) >= factor


def chart_ingest(results, chart_dir):
    if not results["ingest"]:
        return None
    points = ingest_by_point(results)
    keys = [k for k in system_keys(results) if any(r["system"] == k for r in results["ingest"])]
    batches = sorted({b for b, _ in ingest_points(results)})
    connection_counts = sorted({c for _, c in ingest_points(results)}, reverse=True)
    fig, axes = plt.subplots(1, len(connection_counts), figsize=FIGURE_SIZE, sharey=True, squeeze=False)
    width = 0.8 / len(keys)
    for ax, connections in zip(axes[0], connection_counts):
        for i, key in enumerate(keys):
            xs, heights = [], []
            for j, batch in enumerate(batches):
                rate = median_rate(points, key, batch, connections)
                if rate:
                    xs.append(j - 0.4 + width * (i + 0.5))
                    heights.append(rate)
            ax.bar(xs, heights, width, label=system_label(results, key), color=system_colour(results, key))
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(human_axis))
        ax.set_xticks(range(len(batches)), [f"batch {fmt_int(b)}" for b in batches])
        ax.set_title(f"{connections} connection{'s' if connections != 1 else ''}")
        ax.grid(axis="y", which="major", alpha=0.4)
    # Bars start at a round decade below the smallest; set once all panels are drawn (shared y).
    axes[0][0].autoscale_view()
    axes[0][0].set_ylim(bottom=log_floor(r["medianEventsPerSecond"] for r in results["ingest"]))
    axes[0][0].set_ylabel("durable events/s (median, log scale)")
    fig.suptitle("Durable ingest throughput")
    bottom_legend(fig, axes[0][0])
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return save(fig, chart_dir, "ingest-throughput.png")


def chart_latency(results, chart_dir):
    if not results["latency"]:
        return None
    order = system_keys(results)
    # One connections setting (the smallest) so that each line is one system.
    charted = min(r["connections"] for r in results["latency"])
    latency = [r for r in results["latency"] if r["connections"] == charted]
    keys = sorted({r["system"] for r in latency}, key=order.index)
    rates = sorted({r["offeredPerSecond"] for r in latency})
    percentiles = [("p50", "p50Microseconds"), ("p99", "p99Microseconds"), ("p99.9", "p999Microseconds")]
    fig, axes = plt.subplots(1, len(percentiles), figsize=FIGURE_SIZE, sharey=True)
    for ax, (name, field) in zip(axes, percentiles):
        for key in keys:
            runs = sorted((r for r in latency if r["system"] == key), key=lambda r: r["offeredPerSecond"])
            xs = [rates.index(r["offeredPerSecond"]) for r in runs]
            ys = [r[field] for r in runs]
            colour = system_colour(results, key)
            ax.plot(xs, ys, color=colour, marker="o", label=system_label(results, key))
            behind = [(x, y) for x, y, r in zip(xs, ys, runs) if not kept_up(r)]
            if behind:
                ax.scatter(*zip(*behind), s=110, facecolors="none", edgecolors="black", linewidths=1.2, zorder=3)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(micros_axis))
        ax.set_xticks(range(len(rates)), [f"{human_axis(r)}/s" for r in rates])
        ax.set_xlabel("offered events/s")
        ax.set_title(name)
        ax.grid(which="major", alpha=0.4)
    axes[0].set_ylabel("latency (log scale)")
    fig.suptitle(f"Single-event durable ingest latency, {charted} connections (circled: could not keep up)")
    bottom_legend(fig, axes[0])
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return save(fig, chart_dir, "latency-percentiles.png")


def chart_query(results, chart_dir):
    if not results["query"]:
        return None
    order = system_keys(results)
    keys = sorted({r["system"] for r in results["query"]}, key=order.index)
    queries = list(dict.fromkeys(r["query"] for r in results["query"]))
    by_point = {(r["system"], r["query"]): r for r in results["query"]}
    fig, axes = plt.subplots(1, 2, figsize=FIGURE_SIZE, sharey=True)
    width = 0.8 / len(keys)
    for ax, (name, field) in zip(axes, [("p50", "p50Microseconds"), ("p99", "p99Microseconds")]):
        for i, key in enumerate(keys):
            xs, heights = [], []
            for j, query in enumerate(queries):
                run = by_point.get((key, query))
                if run and run[field] > 0:
                    xs.append(j - 0.4 + width * (i + 0.5))
                    heights.append(run[field])
            ax.bar(xs, heights, width, label=system_label(results, key), color=system_colour(results, key))
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(micros_axis))
        ax.set_xticks(range(len(queries)), [wrap_label(q) for q in queries])
        ax.set_title(name)
        ax.grid(axis="y", which="major", alpha=0.4)
    axes[0].autoscale_view()
    axes[0].set_ylim(bottom=log_floor(r["p50Microseconds"] for r in results["query"]))
    axes[0].set_ylabel("latency (log scale)")
    fig.suptitle("Query latency")
    bottom_legend(fig, axes[0])
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return save(fig, chart_dir, "query-latency.png")


def chart_growth(results, chart_dir):
    growth = sorted(results["growth"], key=lambda g: g["customers"])
    if not growth:
        return None
    customers = [g["customers"] for g in growth]
    colour = SYSTEM_COLOURS[METERD_UNIX]
    fig, (memory_ax, rate_ax) = plt.subplots(1, 2, figsize=FIGURE_SIZE)
    mib = [g["residentBytes"] / 2**20 for g in growth]
    memory_ax.plot(customers, mib, color=colour, marker="o")
    for x, y in zip(customers, mib):
        memory_ax.annotate(f"{sig(y)} MiB", (x, y), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=9)
    if spans_orders(mib):
        memory_ax.set_yscale("log")
        memory_ax.set_ylim(min(mib) / 1.5, max(mib) * 1.6)
        memory_ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        memory_ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
        memory_ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        memory_ax.set_ylim(bottom=0, top=max(mib) * 1.2)
    memory_ax.set_title("resident memory")
    memory_ax.set_ylabel("MiB" + (" (log scale)" if spans_orders(mib) else ""))

    rates = [g["eventsPerSecond"] for g in growth]
    rate_ax.plot(customers, rates, color=colour, marker="o")
    for x, y in zip(customers, rates):
        rate_ax.annotate(human_axis(float(sig(y).replace(",", ""))), (x, y), textcoords="offset points",
                         xytext=(0, 8), ha="center", fontsize=9)
    rate_ax.set_ylim(bottom=0, top=max(rates) * 1.2)
    rate_ax.yaxis.set_major_formatter(FuncFormatter(human_axis))
    rate_ax.set_title("ingest rate")
    rate_ax.set_ylabel("durable events/s")

    for ax in (memory_ax, rate_ax):
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(human_axis))
        ax.set_xlabel("active customers (log scale)")
        ax.grid(which="major", alpha=0.4)
        if len(customers) > 1:
            ax.set_xlim(min(customers) / 2, max(customers) * 2)
    fig.suptitle("meterd with many active customers")
    fig.tight_layout()
    return save(fig, chart_dir, "growth-memory.png")


def chart_restart(results, chart_dir):
    restart = results["restart"]
    if not restart:
        return None
    event_counts = sorted({r["events"] for r in restart})
    fig, ax = plt.subplots(figsize=FIGURE_SIZE)
    width = 0.38
    variants = [(True, "with snapshot", SYSTEM_COLOURS[METERD_UNIX]), (False, "log only (no snapshot)", "#9aa5b1")]
    for i, (snapshot, label, colour) in enumerate(variants):
        xs, heights = [], []
        for j, events in enumerate(event_counts):
            for r in restart:
                if r["events"] == events and r["withSnapshot"] == snapshot:
                    xs.append(j - width / 2 + i * width)
                    heights.append(r["seconds"])
        bars = ax.bar(xs, heights, width, label=label, color=colour)
        ax.bar_label(bars, labels=[f"{sig(h)} s" for h in heights], padding=3, fontsize=9)
    seconds = [r["seconds"] for r in restart]
    if spans_orders(seconds, 100):
        ax.set_yscale("log")
        ax.set_ylabel("seconds (log scale)")
    else:
        ax.set_ylim(0, max(seconds) * 1.15)
        ax.set_ylabel("seconds")
    ax.set_xticks(range(len(event_counts)), [f"{human_axis(e)} events" for e in event_counts])
    ax.set_title("meterd restart: seconds until it answers Health")
    ax.grid(axis="y", alpha=0.4)
    ax.legend(frameon=False)
    fig.tight_layout()
    return save(fig, chart_dir, "restart-time.png")


# ---------------------------------------------------------------------------------------------


def relative_link(path, output_path):
    """`path` relative to the directory of the markdown file, with forward slashes."""
    if path is None:
        return None
    base = os.path.dirname(os.path.abspath(output_path))
    return os.path.relpath(os.path.abspath(path), base).replace(os.sep, "/")


def display_path(path):
    """The results path as given, made relative when it lies below the current directory."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute)
    return absolute if relative.startswith("..") else relative


def main(argv):
    if len(argv) != 4:
        sys.exit("usage: bench_report.py RESULTS.json OUTPUT.md CHART_DIR")
    results_path, output_path, chart_dir = argv[1:]
    results = load_results(results_path)
    os.makedirs(chart_dir, exist_ok=True)
    out_dir = os.path.dirname(os.path.abspath(output_path))
    os.makedirs(out_dir, exist_ok=True)

    charts = {
        "ingest": chart_ingest(results, chart_dir),
        "latency": chart_latency(results, chart_dir),
        "query": chart_query(results, chart_dir),
        "growth": chart_growth(results, chart_dir),
        "restart": chart_restart(results, chart_dir),
    }
    names = {"ingest": "ingest-throughput.png", "latency": "latency-percentiles.png", "query": "query-latency.png",
             "growth": "growth-memory.png", "restart": "restart-time.png"}
    # Remove charts of an earlier report that this run does not draw, so none is left stale.
    for part, path in charts.items():
        stale = os.path.join(chart_dir, names[part])
        if path is None and os.path.exists(stale):
            os.remove(stale)
    links = {part: relative_link(path, output_path) for part, path in charts.items()}

    lines = []
    lines += section_title(results, display_path(results_path))
    lines += section_machine(results)
    lines += section_headline(results)
    lines += section_ingest(results, links["ingest"])
    lines += section_latency(results, links["latency"])
    lines += section_snapshot_pause(results)
    lines += section_group_commits(results)
    lines += section_query(results, links["query"])
    lines += section_growth_restart(results, links["growth"], links["restart"])
    lines += section_elsewhere()
    lines += section_correctness(results)
    while lines and lines[-1] == "":
        lines.pop()
    with open(output_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    drawn = [os.path.basename(p) for p in charts.values() if p]
    print(f"wrote {output_path} and {len(drawn)} chart(s) in {chart_dir}: {', '.join(drawn) or 'none'}")


if __name__ == "__main__":
    main(sys.argv)
