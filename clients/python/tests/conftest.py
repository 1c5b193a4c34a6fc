"""Fixtures: a real meterd process on a temporary Unix socket and TCP port.

The binary comes from $METERD_BINARY, else ../../.build/debug/meterd relative to clients/python.
A missing binary fails the live tests (it never skips them): build it with `swift build`.
"""

from __future__ import annotations

import os
import pathlib
import re
import signal
import subprocess
import time

import pytest

PYTHON_CLIENT_DIRECTORY = pathlib.Path(__file__).resolve().parent.parent
REPOSITORY_ROOT = PYTHON_CLIENT_DIRECTORY.parent.parent
TESTDATA_DIRECTORY = REPOSITORY_ROOT / "proto" / "testdata"
_LISTENING = re.compile(r"meterd: listening on unix:(?P<socket>\S+) and tcp:(?P<tcp>\S+)")


def meterd_binary() -> pathlib.Path:
    configured = os.environ.get("METERD_BINARY")
    if configured:
        return pathlib.Path(configured)
    return (PYTHON_CLIENT_DIRECTORY / "../../.build/debug/meterd").resolve()


class MeterdServer:
    """One meterd process; :meth:`restart` stops it with SIGTERM and starts it again on the
    same data directory, socket and TCP port (the first start lets port 0 pick the port)."""

    def __init__(self, binary: pathlib.Path, directory: pathlib.Path, extra_arguments: tuple[str, ...] = ()) -> None:
        self.binary = binary
        self.extra_arguments = list(extra_arguments)
        self.data_directory = directory / "data"
        self.socket_path = str(directory / "meterd.sock")
        self.log_path = directory / "meterd.stderr"
        self.stdout_path = directory / "meterd.stdout"
        self.tcp_address: str | None = None
        self.process: subprocess.Popen | None = None

    @property
    def unix_address(self) -> str:
        return f"unix:{self.socket_path}"

    def address(self, transport: str) -> str:
        return self.unix_address if transport == "unix" else self.tcp_address

    @property
    def bootstrap_key(self) -> str:
        """The admin key meterd wrote into its new data directory."""
        return (self.data_directory / "bootstrap-admin.key").read_text().strip()

    def options(self, transport: str) -> dict:
        """Client options for a transport: TCP needs an API key; on the Unix socket the test's
        own user (meterd's) needs none."""
        return {} if transport == "unix" else {"api_key": self.bootstrap_key}

    def start(self, timeout: float = 30.0) -> None:
        """Start meterd and wait for its "listening" line (stdout goes to a log file)."""
        self.stdout_path.write_bytes(b"")
        with open(self.stdout_path, "ab") as stdout, open(self.log_path, "ab") as stderr:
            self.process = subprocess.Popen(
                [str(self.binary), "--data-dir", str(self.data_directory), "--socket",
                 self.socket_path, "--tcp", self.tcp_address or "127.0.0.1:0", *self.extra_arguments],
                stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.stdout_path.read_text(errors="replace"))
            if match:
                self.tcp_address = match.group("tcp")
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"meterd did not start; stdout: {self.stdout_path.read_text()!r}; "
                           f"stderr: {self.log_path.read_text(errors='replace')!r}")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM the process and wait; returns its exit status."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def restart(self) -> None:
        status = self.stop()
        assert status == 0, f"meterd exited {status} on SIGTERM"
        self.start()


@pytest.fixture(scope="session")
def meterd_path() -> pathlib.Path:
    binary = meterd_binary()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(f"meterd binary not found at {binary}: run `swift build` in {REPOSITORY_ROOT} "
                    "first, or point METERD_BINARY at it", pytrace=False)
    return binary


@pytest.fixture
def meterd(meterd_path, tmp_path_factory):
    """A fresh meterd (empty data directory) for one test."""
    server = MeterdServer(meterd_path, tmp_path_factory.mktemp("meterd"))
    server.start()
    yield server
    status = server.stop()
    assert status in (0, None), f"meterd exited {status} on SIGTERM"


@pytest.fixture(params=["unix", "tcp"])
def transport(request) -> str:
    """Run a test once over the Unix socket and once over TCP."""
    return request.param
