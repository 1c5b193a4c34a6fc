"""Protobuf messages of the meterd wire protocol, generated from proto/meterd/v1/meterd.proto.

Do not edit ``meterd_pb2.py``: regenerate it with ``scripts/generate.sh``.
"""

from . import meterd_pb2

__all__ = ["meterd_pb2"]
