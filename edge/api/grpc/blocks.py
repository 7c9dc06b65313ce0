"""The building blocks served over gRPC: importing a module registers its methods."""

from edge.api.grpc import metadata  # noqa: F401
