"""TLS on meterd's TCP listener with a CA made here by the openssl CLI: the blocking and the
asyncio clients verify the server with an ssl.SSLContext; without TLS, or trusting another CA,
they cannot connect."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess

import pytest

import meterclient
from conftest import MeterdServer
from meterclient import AsyncClient, Client

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def _openssl(*arguments: str) -> None:
    subprocess.run(["openssl", *arguments], check=True, capture_output=True, env={"OPENSSL_CONF": "/dev/null"})


@pytest.fixture
def certificates(tmp_path):
    for name in ("ca", "other-ca"):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                 "-subj", f"/CN={name}", "-keyout", str(tmp_path / f"{name}.key"), "-out", str(tmp_path / f"{name}.pem"),
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=server",
             "-keyout", str(tmp_path / "server.key"), "-out", str(tmp_path / "server.csr"))
    (tmp_path / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", str(tmp_path / "server.csr"), "-CA", str(tmp_path / "ca.pem"),
             "-CAkey", str(tmp_path / "ca.key"), "-CAcreateserial", "-days", "2",
             "-extfile", str(tmp_path / "server.ext"), "-out", str(tmp_path / "server.pem"))
    return tmp_path


@pytest.fixture
def tls_meterd(meterd_path, tmp_path_factory, certificates):
    server = MeterdServer(meterd_path, tmp_path_factory.mktemp("meterd-tls"),
                          ("--tls-certificate", str(certificates / "server.pem"), "--tls-key", str(certificates / "server.key")))
    server.start()
    yield server
    assert server.stop() in (0, None)


def test_clients_verify_the_server_with_an_ssl_context(tls_meterd, certificates):
    context = ssl.create_default_context(cafile=str(certificates / "ca.pem"))
    with Client.connect(tls_meterd.tcp_address, api_key=tls_meterd.bootstrap_key, ssl=context) as client:
        assert client.health().status.name == "SERVING"
        assert client.connection_info.principal == "key key_1"

    async def asynchronous() -> str:
        async with await AsyncClient.connect(tls_meterd.tcp_address, api_key=tls_meterd.bootstrap_key, ssl=context) as client:
            return (await client.health()).status.name

    assert asyncio.run(asynchronous()) == "SERVING"


def test_an_untrusted_server_or_plaintext_cannot_connect(tls_meterd, certificates):
    untrusted = ssl.create_default_context(cafile=str(certificates / "other-ca.pem"))
    with pytest.raises(meterclient.ConnectionError):
        Client.connect(tls_meterd.tcp_address, api_key=tls_meterd.bootstrap_key, ssl=untrusted, timeout=5.0)
    with pytest.raises(meterclient.MeterError):
        Client.connect(tls_meterd.tcp_address, api_key=tls_meterd.bootstrap_key, timeout=2.0)
