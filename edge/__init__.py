"""edge: a Dapr-compatible sidecar runtime for edge and IoT gateways."""

__version__ = "0.1.0"
