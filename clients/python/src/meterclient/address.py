"""Parsing of server addresses: ``unix:/path``, a socket path, or ``host:port``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Address:
    """Where a meterd server listens: a Unix socket path, or a TCP host and port."""

    unix_path: str | None = None
    host: str | None = None
    port: int | None = None

    @property
    def is_unix(self) -> bool:
        return self.unix_path is not None

    def __str__(self) -> str:
        if self.is_unix:
            return f"unix:{self.unix_path}"
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_address(text: str) -> Address:
    """Parse ``unix:/path``, ``/path/meterd.sock`` (anything with a ``/``), ``host:port``,
    ``tcp:host:port`` or ``[ipv6]:port``."""
    if not isinstance(text, str) or not text:
        raise ValueError("address must be a non-empty string")
    if text.startswith("unix:"):
        path = text[len("unix:"):]
        if not path:
            raise ValueError("unix: address without a path")
        return Address(unix_path=path)
    if text.startswith("tcp:"):
        text = text[len("tcp:"):]
    elif "/" in text or text.endswith(".sock"):
        return Address(unix_path=text)
    if text.startswith("["):
        host, separator, port = text[1:].partition("]:")
    else:
        host, separator, port = text.rpartition(":")
    if not separator or not host or not port.isdigit():
        raise ValueError(f"address {text!r} is neither unix:/path, a socket path nor host:port")
    number = int(port)
    if not 0 < number < 65536:
        raise ValueError(f"port {number} out of range")
    return Address(host=host, port=number)
