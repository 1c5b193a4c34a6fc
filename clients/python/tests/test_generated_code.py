"""The committed meterd_pb2.py matches what scripts/generate.sh produces from proto/ now.

The committed code comes from protoc 3.21.12 (Debian 12's protobuf-compiler, which the
project's scripts/test installs). With another protoc, or none, the comparison is skipped with
the reason, since a different protoc version writes different text for the same .proto.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import PYTHON_CLIENT_DIRECTORY

GENERATOR = PYTHON_CLIENT_DIRECTORY / "scripts" / "generate.sh"
COMMITTED = PYTHON_CLIENT_DIRECTORY / "src" / "meterclient" / "proto"
EXPECTED_PROTOC = "libprotoc 3.21.12"


def protoc_version() -> str | None:
    protoc = os.environ.get("PROTOC", "protoc")
    if shutil.which(protoc) is None:
        return None
    return subprocess.run([protoc, "--version"], capture_output=True, text=True).stdout.strip()


def test_committed_generated_code_is_up_to_date(tmp_path):
    version = protoc_version()
    if version is None:
        pytest.skip("protoc not installed (apt-get install -y protobuf-compiler): cannot "
                    "regenerate meterd_pb2.py to compare")
    if version != EXPECTED_PROTOC:
        pytest.skip(f"protoc is {version!r}, the committed code comes from {EXPECTED_PROTOC!r}: "
                    "output would differ")
    subprocess.run(["bash", str(GENERATOR), str(tmp_path)], check=True, capture_output=True)
    for name in ("meterd_pb2.py", "meterd_pb2.pyi"):
        regenerated = (tmp_path / name).read_bytes()
        committed = (COMMITTED / name).read_bytes()
        assert regenerated == committed, (
            f"{name} is stale: run clients/python/scripts/generate.sh and commit the result")


def test_generated_module_describes_the_proto_file():
    from meterclient.proto import meterd_pb2

    assert meterd_pb2.DESCRIPTOR.name == "meterd/v1/meterd.proto"
    assert meterd_pb2.DESCRIPTOR.package == "meterd.v1"
    assert "IngestBatchRequest" in meterd_pb2.DESCRIPTOR.message_types_by_name
