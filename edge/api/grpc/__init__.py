"""Dapr's gRPC API (imported only when the sidecar serves it)."""
