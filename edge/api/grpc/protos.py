"""Dapr's gRPC messages and services, as generated from Dapr's .proto files and
shipped by the official `dapr` Python package (edge never hand-writes them)."""

from __future__ import annotations

import os

# The package's import-time check for old dapr-ext-* installs scans every
# installed distribution; the sidecar has none of them and needs no such scan.
os.environ.setdefault("DAPR_SKIP_LEGACY_CHECK", "1")

from dapr.proto.common.v1 import common_pb2 as common
from dapr.proto.runtime.v1 import actors_pb2 as actors
from dapr.proto.runtime.v1 import appcallback_pb2 as appcallback
from dapr.proto.runtime.v1 import appcallback_pb2_grpc as appcallback_grpc
from dapr.proto.runtime.v1 import binding_pb2 as binding
from dapr.proto.runtime.v1 import configuration_pb2 as configuration
from dapr.proto.runtime.v1 import dapr_pb2 as dapr
from dapr.proto.runtime.v1 import dapr_pb2_grpc as dapr_grpc
from dapr.proto.runtime.v1 import invoke_pb2 as invoke
from dapr.proto.runtime.v1 import lock_pb2 as lock
from dapr.proto.runtime.v1 import metadata_pb2 as metadata
from dapr.proto.runtime.v1 import pubsub_pb2 as pubsub
from dapr.proto.runtime.v1 import secret_pb2 as secret
from dapr.proto.runtime.v1 import state_pb2 as state

__all__ = ["actors", "appcallback", "appcallback_grpc", "binding", "common", "configuration",
           "dapr", "dapr_grpc", "invoke", "lock", "metadata", "pubsub", "secret", "state"]
