"""Cross-language check: one meterd; a meter created from Python; events ingested with the C
client (clients/c/build/ingest) and with Swift's meterctl; usage read from all three, which must
give identical answers."""

import json
import pathlib
import subprocess
import time

from meterclient import Client

REPOSITORY = pathlib.Path(__file__).resolve().parents[3]
C_BUILD = REPOSITORY / "clients" / "c" / "build"
METERCTL = REPOSITORY / ".build" / "debug" / "meterctl"


def run(arguments):
    completed = subprocess.run([str(argument) for argument in arguments], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, f"{arguments}: {completed.stderr}"
    return completed.stdout


def test_python_c_and_swift_agree(meterd, tmp_path):
    for tool in (C_BUILD / "ingest", C_BUILD / "usage", METERCTL):
        assert tool.exists(), f"{tool} is missing: build the C client (make -C clients/c) and meterctl (swift build)"
    socket = meterd.unix_address
    path = socket.removeprefix("unix:")
    with Client.connect(socket) as client:
        client.create_meter("tokens_used", "Tokens Used", "SUM", field="tokens", reset="CUMULATIVE")

    # C: two events for customer xl, 1250 and 7 tokens.
    run([C_BUILD / "ingest", socket, "xl", "1250"])
    run([C_BUILD / "ingest", socket, "xl", "7"])
    # Swift: meterctl ingests NDJSON with an exact decimal, and a retry of the same id.
    now_ms = int(time.time() * 1000)
    line = {"event_id": "swift-1", "event_name": "tokens_used", "customer_id": "xl", "timestamp": now_ms,
            "properties": {"model": "llama3.1", "tokens": 0.125}}
    events = tmp_path / "events.ndjson"
    events.write_text(json.dumps(line) + "\n" + json.dumps(line) + "\n")
    summary = run([METERCTL, "ingest", events, "--socket", path])
    assert "accepted 1, duplicates 1, rejected 0" in summary

    with Client.connect(socket) as client:
        from_python = str(client.current_usage("tokens_used", customer="xl").value)
    from_c = run([C_BUILD / "usage", socket, "tokens_used", "xl"]).strip()
    from_swift = json.loads(run([METERCTL, "usage", "tokens_used", "--current", "--customer", "xl", "--json", "--socket", path]))["value"]
    assert from_python == from_c == from_swift == "1257.125"
