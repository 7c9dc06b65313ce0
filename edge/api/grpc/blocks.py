"""The building blocks served over gRPC, one module each: loading a module
registers its methods. A new block is one line here."""

import importlib

MODULES = (
    "metadata",
    "invoke",
    "bindings",
    "actors",
    "state",
    "secrets",
    "configuration",
    "lock",
    "pubsub",
)


def load() -> None:
    for name in MODULES:
        importlib.import_module(f"edge.api.grpc.{name}")
